using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// The module laid out as PowerShell finds it (POWERSHELL.md §1), once per test run, in a private temp folder:
/// module/RestoreOps/ (manifest, views, help sources), RestoreOps.PowerShell.dll and RestoreOps.Model.dll in the
/// root, the engine and everything it needs under Dependencies/. The layout follows scripts/package-module.sh's
/// rules but is made here from the same two <c>dotnet publish</c> runs, so these tests do not depend on generated
/// help being complete (the script refuses to lay out anything while a FileList entry is missing), nor race a
/// concurrent packaging run that deletes artifacts/module/. RESTOREOPS_TEST_MODULE points the tests at a packaged module
/// folder instead (e.g. artifacts/module/RestoreOps in CI, after packaging).
/// </summary>
internal sealed class BuiltModule
{
    private static readonly Lazy<BuiltModule> Built = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    private BuiltModule(string directory) => Directory = directory;

    public static BuiltModule Instance => Built.Value;

    /// <summary>The module folder: manifest, views, and the two assemblies PowerShell loads.</summary>
    public string Directory { get; }

    public string DependencyDirectory => Path.Combine(Directory, "Dependencies");

    public string PowerShellAssemblyPath => Path.Combine(Directory, "RestoreOps.PowerShell.dll");

    public string EnginePath => Path.Combine(DependencyDirectory, "RestoreOps.dll");

    /// <summary>The manifest being edited in the repository: the independent statement of what the module exports.</summary>
    public static string SourceManifestPath => Path.Combine(RepositoryPaths.Root, "module", "RestoreOps", "RestoreOps.psd1");

    /// <summary>Simple names of the assemblies in Dependencies/ other than the engine: what only the module's own load context may see.</summary>
    public IReadOnlySet<string> ThirdPartyAssemblyNames =>
        System.IO.Directory.GetFiles(DependencyDirectory, "*.dll")
            .Select(p => AssemblyName.GetAssemblyName(p).Name!)
            .Where(n => !string.Equals(n, "RestoreOps", StringComparison.OrdinalIgnoreCase))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static BuiltModule Build()
    {
        if (Environment.GetEnvironmentVariable("RESTOREOPS_TEST_MODULE") is { Length: > 0 } given)
        {
            if (!File.Exists(Path.Combine(given, "RestoreOps.PowerShell.dll")) || !File.Exists(Path.Combine(given, "Dependencies", "RestoreOps.dll")))
                throw new InvalidOperationException($"RESTOREOPS_TEST_MODULE={given} is not a laid-out module (RestoreOps.PowerShell.dll, Dependencies/RestoreOps.dll).");
            return new BuiltModule(Path.GetFullPath(given));
        }

        SweepLeftovers();
        var scratch = System.IO.Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"{ScratchPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}")).FullName;
        // The configuration these tests were built in, so the publish reuses that build instead of making another.
        var configuration = typeof(BuiltModule).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration is { Length: > 0 } c ? c : "Debug";
        var powershell = Publish("src/RestoreOps.PowerShell/RestoreOps.PowerShell.csproj", configuration, Path.Combine(scratch, "publish-powershell"));
        var engine = Publish("src/RestoreOps/RestoreOps.csproj", configuration, Path.Combine(scratch, "publish-engine"));

        var module = Path.Combine(scratch, "RestoreOps");
        // The manifest, views and help sources as they are in module/RestoreOps/, as the package scripts copy them.
        CopyTree(Path.Combine(RepositoryPaths.Root, "module", "RestoreOps"), module);
        var dependencies = System.IO.Directory.CreateDirectory(Path.Combine(module, "Dependencies")).FullName;
        foreach (var dll in new[] { "RestoreOps.PowerShell.dll", "RestoreOps.Model.dll" })
            File.Copy(Path.Combine(powershell, dll), Path.Combine(module, dll));
        // Everything the engine needs except the Model (one shared copy in the root) and PowerShell's reference stub.
        foreach (var dll in System.IO.Directory.GetFiles(engine, "*.dll"))
            if (Path.GetFileName(dll) is not ("RestoreOps.Model.dll" or "System.Management.Automation.dll"))
                File.Copy(dll, Path.Combine(dependencies, Path.GetFileName(dll)));
        if (System.IO.Directory.Exists(Path.Combine(engine, "runtimes")))
            CopyTree(Path.Combine(engine, "runtimes"), Path.Combine(dependencies, "runtimes"));
        return new BuiltModule(module);
    }

    private const string ScratchPrefix = "restoreops-module-";

    // The test host is usually ended without running ProcessExit handlers, so each run removes the folders of runs
    // whose process is gone (the folder name carries the process id) instead of its own.
    private static void SweepLeftovers()
    {
        foreach (var dir in System.IO.Directory.GetDirectories(Path.GetTempPath(), ScratchPrefix + "*"))
        {
            var rest = Path.GetFileName(dir)[ScratchPrefix.Length..];
            if (!int.TryParse(rest.Split('-')[0], out var pid) || pid == Environment.ProcessId || IsRunning(pid)) continue;
            try { System.IO.Directory.Delete(dir, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* another run is sweeping it too */ }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string Publish(string project, string configuration, string output)
    {
        var start = new ProcessStartInfo("dotnet", ["publish", Path.Combine(RepositoryPaths.Root, project), "-c", configuration, "-o", output, "--nologo", "--verbosity", "quiet"])
        {
            WorkingDirectory = RepositoryPaths.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet publish {project} took more than 10 minutes.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"dotnet publish {project} failed ({process.ExitCode}):\n{stdout.Result}\n{stderr.Result}");
        return output;
    }

    private static void CopyTree(string from, string to)
    {
        System.IO.Directory.CreateDirectory(to);
        foreach (var file in System.IO.Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (var dir in System.IO.Directory.GetDirectories(from)) CopyTree(dir, Path.Combine(to, Path.GetFileName(dir)));
    }
}

/// <summary>
/// The built module read with <see cref="MetadataLoadContext"/>: its cmdlets, their parameters and outputs, exactly as
/// the compiled metadata states them, without running anything (no PowerShell host exists here).
/// </summary>
public sealed class ModuleMetadata : IDisposable
{
    private const string Sma = "System.Management.Automation.";

    private readonly MetadataLoadContext _context;

    public ModuleMetadata()
    {
        var module = BuiltModule.Instance;
        RuntimeDirectory = RuntimeEnvironment.GetRuntimeDirectory();
        // Dependencies/ may carry a newer copy of a framework assembly (System.Diagnostics.DiagnosticSource for
        // Npgsql); whichever copy a signature resolves to, the third-party check goes by assembly name.
        var paths = System.IO.Directory.GetFiles(RuntimeDirectory, "*.dll")
            .Concat(System.IO.Directory.GetFiles(module.Directory, "*.dll"))
            .Concat(System.IO.Directory.GetFiles(module.DependencyDirectory, "*.dll"))
            .Append(PowerShellStandardStub())
            .ToList();
        _context = new MetadataLoadContext(new PathAssemblyResolver(paths));
        PowerShell = _context.LoadFromAssemblyPath(module.PowerShellAssemblyPath);
        Engine = _context.LoadFromAssemblyPath(module.EnginePath);
        Model = _context.LoadFromAssemblyName("RestoreOps.Model");
        Automation = _context.LoadFromAssemblyName("System.Management.Automation");
        ThirdParty = module.ThirdPartyAssemblyNames;
        Cmdlets = PowerShell.GetTypes().Select(CmdletInfo.From).OfType<CmdletInfo>().OrderBy(c => c.Name, StringComparer.Ordinal).ToList();
    }

    public Assembly PowerShell { get; }
    public Assembly Engine { get; }
    public Assembly Model { get; }
    /// <summary>The PowerShellStandard.Library stub: the 5.1 API the module compiles against.</summary>
    public Assembly Automation { get; }
    public Assembly CoreAssembly => _context.CoreAssembly!;
    public string RuntimeDirectory { get; }
    public IReadOnlySet<string> ThirdParty { get; }
    public IReadOnlyList<CmdletInfo> Cmdlets { get; }

    public CmdletInfo Cmdlet(string name) =>
        Cmdlets.SingleOrDefault(c => c.Name == name) ?? throw new Xunit.Sdk.XunitException($"No cmdlet {name} in RestoreOps.PowerShell.dll; it has {string.Join(", ", Cmdlets.Select(c => c.Name))}.");

    /// <summary>True for the .NET runtime's own assemblies (as resolved here).</summary>
    public bool IsBcl(Assembly assembly) =>
        assembly == CoreAssembly || string.Equals(Path.GetDirectoryName(assembly.Location)?.TrimEnd('/', '\\'), RuntimeDirectory.TrimEnd('/', '\\'), StringComparison.Ordinal);

    public void Dispose() => _context.Dispose();

    /// <summary>Every type a signature type is made of: itself, element types, generic type definitions and arguments.</summary>
    public static IEnumerable<Type> Constituents(Type type)
    {
        if (type.IsGenericParameter) yield break;
        if (type.HasElementType)
        {
            foreach (var t in Constituents(type.GetElementType()!)) yield return t;
            yield break;
        }
        if (type.IsConstructedGenericType)
        {
            yield return type.GetGenericTypeDefinition();
            foreach (var t in type.GetGenericArguments().SelectMany(Constituents)) yield return t;
            yield break;
        }
        yield return type;
    }

    /// <summary>The stub's path, as restore recorded it for RestoreOps.PowerShell (no version written here).</summary>
    internal static string PowerShellStandardStub()
    {
        var assets = Path.Combine(RepositoryPaths.Root, "src", "RestoreOps.PowerShell", "obj", "project.assets.json");
        using var json = JsonDocument.Parse(File.ReadAllText(assets));
        var library = json.RootElement.GetProperty("libraries").EnumerateObject()
            .Single(l => l.Name.StartsWith("PowerShellStandard.Library/", StringComparison.OrdinalIgnoreCase));
        var relative = library.Value.GetProperty("path").GetString()!;
        foreach (var folder in json.RootElement.GetProperty("packageFolders").EnumerateObject())
        {
            var path = Path.Combine(folder.Name, relative, "lib", "netstandard2.0", "System.Management.Automation.dll");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"System.Management.Automation.dll of {library.Name} is in none of the package folders {assets} names.");
    }

    internal static bool Is(CustomAttributeData attribute, string name) => attribute.AttributeType.FullName == Sma + name;
}

/// <summary>One cmdlet class as its metadata declares it.</summary>
public sealed record CmdletInfo(Type Type, string Verb, string Noun, CustomAttributeData Attribute)
{
    public string Name => $"{Verb}-{Noun}";

    public T? Named<T>(string argument) =>
        Attribute.NamedArguments.Where(a => a.MemberName == argument).Select(a => (T?)a.TypedValue.Value).FirstOrDefault();

    public bool SupportsShouldProcess => Named<bool>("SupportsShouldProcess");

    /// <summary>ConfirmImpact as its enum's name (PowerShell's default, Medium, when not given).</summary>
    public string ConfirmImpact
    {
        get
        {
            var argument = Attribute.NamedArguments.Where(a => a.MemberName == "ConfirmImpact").Select(a => (CustomAttributeTypedArgument?)a.TypedValue).FirstOrDefault();
            if (argument is not { } value) return "Medium";
            var enumType = value.ArgumentType;
            return enumType.GetFields(BindingFlags.Public | BindingFlags.Static)
                .Single(f => Convert.ToInt64(f.GetRawConstantValue()) == Convert.ToInt64(value.Value)).Name;
        }
    }

    /// <summary>Public properties with [Parameter], inherited ones included.</summary>
    public IReadOnlyList<CmdletParameter> Parameters =>
        Type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(CmdletParameter.From).OfType<CmdletParameter>().ToList();

    /// <summary>The types [OutputType] names, across parameter sets.</summary>
    public IReadOnlyList<Type> OutputTypes
    {
        get
        {
            var types = new List<Type>();
            foreach (var attribute in Type.GetCustomAttributesData().Where(a => ModuleMetadata.Is(a, "OutputTypeAttribute")))
                foreach (var argument in attribute.ConstructorArguments)
                {
                    var items = argument.Value as ReadOnlyCollection<CustomAttributeTypedArgument> ?? new([argument]);
                    foreach (var item in items)
                        types.Add(item.Value as Type ?? throw new Xunit.Sdk.XunitException(
                            $"{Name}: [OutputType(\"{item.Value}\")] names a type by string; use typeof so the compiler checks it."));
                }
            return types;
        }
    }

    public bool DerivesFrom(string fullName)
    {
        for (var t = Type.BaseType; t is not null; t = t.BaseType)
            if (t.FullName == fullName) return true;
        return false;
    }

    internal static CmdletInfo? From(Type type)
    {
        var attribute = type.GetCustomAttributesData().FirstOrDefault(a => ModuleMetadata.Is(a, "CmdletAttribute"));
        if (attribute is null || type.IsAbstract || !type.IsPublic) return null;
        return new CmdletInfo(type, (string)attribute.ConstructorArguments[0].Value!, (string)attribute.ConstructorArguments[1].Value!, attribute);
    }
}

/// <summary>One cmdlet parameter: its property, its [Parameter] attributes (one per parameter set) and aliases.</summary>
public sealed record CmdletParameter(PropertyInfo Property, IReadOnlyList<CustomAttributeData> Attributes, IReadOnlyList<string> Aliases)
{
    public string Name => Property.Name;
    public Type Type => Property.PropertyType;
    public bool ByValue => Attributes.Any(a => Flag(a, "ValueFromPipeline"));
    public bool ByPropertyName => Attributes.Any(a => Flag(a, "ValueFromPipelineByPropertyName"));

    public override string ToString() =>
        $"-{Name} [{Type.Name}]{(ByValue ? " ByValue" : "")}{(ByPropertyName ? " ByPropertyName" : "")}{(Aliases.Count > 0 ? $" (aliases {string.Join(", ", Aliases)})" : "")}";

    private static bool Flag(CustomAttributeData a, string name) =>
        a.NamedArguments.Any(n => n.MemberName == name && n.TypedValue.Value is true);

    internal static CmdletParameter? From(PropertyInfo property)
    {
        var data = property.GetCustomAttributesData();
        var parameters = data.Where(a => ModuleMetadata.Is(a, "ParameterAttribute")).ToList();
        if (parameters.Count == 0) return null;
        var aliases = data.Where(a => ModuleMetadata.Is(a, "AliasAttribute"))
            .SelectMany(a => a.ConstructorArguments)
            .SelectMany(arg => arg.Value as ReadOnlyCollection<CustomAttributeTypedArgument> ?? new([arg]))
            .Select(v => (string)v.Value!).ToList();
        return new CmdletParameter(property, parameters, aliases);
    }
}

[CollectionDefinition(Name)]
public sealed class ModuleMetadataCollection : ICollectionFixture<ModuleMetadata>
{
    /// <summary>One MetadataLoadContext for all metadata tests, which therefore run one at a time.</summary>
    public const string Name = "PowerShell module metadata";
}
