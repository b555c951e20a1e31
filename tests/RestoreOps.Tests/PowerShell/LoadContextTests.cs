using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using Npgsql;
using RestoreOps.Automation;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// The module's load context exercised in this plain .NET host, from the built module folder (POWERSHELL.md §1).
/// This host already has its own RestoreOps and Npgsql in the default context (the test project references them),
/// so every assertion names the context an assembly lives in rather than trusting that a load "worked".
/// </summary>
public sealed class LoadContextTests : IDisposable
{
    private const string ContextTypeName = "RestoreOps.PowerShell.Infrastructure.ModuleLoadContext";

    // The class under test is internal and the test project does not compile against the module (it would drag the
    // PowerShell reference stub in): it is reached by reflection, from the module as it is packaged.
    private static readonly Lazy<Type> ContextType = new(() =>
        Assembly.LoadFrom(BuiltModule.Instance.PowerShellAssemblyPath).GetType(ContextTypeName, throwOnError: true)!);

    private readonly string _scratch = Directory.CreateTempSubdirectory("restoreops-alc-").FullName;
    private readonly List<AssemblyLoadContext> _contexts = [];

    private static string Dependencies => BuiltModule.Instance.DependencyDirectory;

    [Fact]
    public void The_engine_loads_from_Dependencies_into_the_module_context()
    {
        var context = NewContext(EmptyPowerShellDirectory());
        Assert.False(EngineLoaded(context), "a fresh context already has the engine");

        var engine = context.LoadFromAssemblyName(new AssemblyName("RestoreOps"));

        Assert.Equal(Path.Combine(Dependencies, "RestoreOps.dll"), engine.Location);
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(engine));
        Assert.NotSame(typeof(RestoreEngine).Assembly, engine);
        Assert.True(EngineLoaded(context));
    }

    [Fact]
    public void The_default_context_is_answered_for_the_engine_only()
    {
        var context = NewContext(EmptyPowerShellDirectory());

        Assert.Null(ResolveEngine(context, new AssemblyName("Npgsql")));
        Assert.Null(ResolveEngine(context, new AssemblyName("RestoreOps.Model")));
        Assert.False(EngineLoaded(context), "answering for another name loaded the engine");

        var engine = ResolveEngine(context, new AssemblyName("RestoreOps"));
        Assert.NotNull(engine);
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(engine));
    }

    [Fact]
    public void Npgsql_reached_through_the_engine_comes_from_Dependencies_into_the_module_context()
    {
        var context = NewContext(EmptyPowerShellDirectory());
        var engine = context.LoadFromAssemblyName(new AssemblyName("RestoreOps"));

        // Whatever Npgsql type the engine's own signatures name: the runtime resolves it through the engine's context.
        var npgsql = NpgsqlTypeInSignatures(engine)?.Assembly;

        Assert.NotNull(npgsql);
        Assert.Equal(Path.Combine(Dependencies, "Npgsql.dll"), npgsql.Location);
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(npgsql));
        Assert.NotSame(typeof(NpgsqlConnection).Assembly, npgsql);
        Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(typeof(NpgsqlConnection).Assembly));
    }

    [Fact]
    public void Every_dependency_the_engine_names_loads_from_Dependencies()
    {
        var context = NewContext(EmptyPowerShellDirectory());
        var engine = context.LoadFromAssemblyName(new AssemblyName("RestoreOps"));
        var shipped = engine.GetReferencedAssemblies().Where(r => File.Exists(Path.Combine(Dependencies, r.Name + ".dll"))).ToList();
        Assert.Contains(shipped, r => r.Name == "Npgsql");

        var wrong = new List<string>();
        foreach (var reference in shipped)
        {
            var loaded = context.LoadFromAssemblyName(reference);
            if (AssemblyLoadContext.GetLoadContext(loaded) != context || Path.GetDirectoryName(loaded.Location) != Dependencies)
                wrong.Add($"{reference.Name}: {loaded.Location} in {AssemblyLoadContext.GetLoadContext(loaded)?.Name}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void The_engine_shares_the_default_context_Model()
    {
        // A stray Model next to the engine (a packaging slip) must still not become the engine's copy.
        var dependencies = Directory.CreateDirectory(Path.Combine(_scratch, "Dependencies")).FullName;
        foreach (var dll in Directory.GetFiles(Dependencies, "*.dll")) File.Copy(dll, Path.Combine(dependencies, Path.GetFileName(dll)));
        File.Copy(Path.Combine(BuiltModule.Instance.Directory, "RestoreOps.Model.dll"), Path.Combine(dependencies, "RestoreOps.Model.dll"));
        var context = NewContext(EmptyPowerShellDirectory(), dependencies);
        var engine = context.LoadFromAssemblyName(new AssemblyName("RestoreOps"));

        var request = engine.GetType(typeof(RestoreRequest).FullName!, throwOnError: true)!;
        var backup = request.GetProperty(nameof(RestoreRequest.Backup))!;
        var getLocal = engine.GetType(typeof(RestoreEngine).FullName!, throwOnError: true)!.GetMethod(nameof(RestoreEngine.GetLocalBackupAsync))!;

        Assert.NotSame(typeof(RestoreRequest), request);
        Assert.Same(typeof(Backup), backup.PropertyType);
        Assert.Same(typeof(Backup), getLocal.ReturnType.GetGenericArguments()[0]);
        Assert.DoesNotContain(context.Assemblies, a => a.GetName().Name == "RestoreOps.Model");
        // A Backup made on this side is accepted as is by the engine's copy of RestoreRequest.
        var instance = RuntimeHelpers.GetUninitializedObject(request);
        backup.SetValue(instance, RuntimeHelpers.GetUninitializedObject(typeof(Backup)));
    }

    [Fact]
    public void An_assembly_PowerShell_ships_at_a_sufficient_version_is_left_to_PowerShell()
    {
        var pshome = EmptyPowerShellDirectory();
        File.Copy(Path.Combine(Dependencies, "YamlDotNet.dll"), Path.Combine(pshome, "YamlDotNet.dll"));
        var context = NewContext(pshome);
        var engine = context.LoadFromAssemblyName(new AssemblyName("RestoreOps"));

        var yaml = context.LoadFromAssemblyName(engine.GetReferencedAssemblies().Single(r => r.Name == "YamlDotNet"));

        // Deferred: the default context supplies it (in PowerShell, its own copy; in this host, the test's).
        Assert.Same(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(yaml));
        Assert.NotEqual(Dependencies, Path.GetDirectoryName(yaml.Location));
    }

    [Fact]
    public void An_older_copy_in_PowerShell_directory_is_not_used()
    {
        var pshome = EmptyPowerShellDirectory();
        WriteEmptyAssembly(Path.Combine(pshome, "YamlDotNet.dll"), "YamlDotNet", new Version(1, 0, 0, 0));
        var context = NewContext(pshome);
        var engine = context.LoadFromAssemblyName(new AssemblyName("RestoreOps"));
        var reference = engine.GetReferencedAssemblies().Single(r => r.Name == "YamlDotNet");
        Assert.True(reference.Version > new Version(1, 0, 0, 0));

        var yaml = context.LoadFromAssemblyName(reference);

        Assert.Same(context, AssemblyLoadContext.GetLoadContext(yaml));
        Assert.Equal(Path.Combine(Dependencies, "YamlDotNet.dll"), yaml.Location);
    }

    [Fact]
    public void Native_libraries_are_looked_up_under_runtimes_rid_native()
    {
        var dependencies = Path.Combine(_scratch, "Dependencies");
        var native = Directory.CreateDirectory(Path.Combine(dependencies, "runtimes", RuntimeInformation.RuntimeIdentifier, "native")).FullName;
        var file = OperatingSystem.IsWindows() ? "fake.dll" : OperatingSystem.IsMacOS() ? "libfake.dylib" : "libfake.so";
        File.WriteAllBytes(Path.Combine(native, file), []);
        var context = NewContext(EmptyPowerShellDirectory(), dependencies);

        var find = ContextType.Value.GetMethod("FindNativeLibrary", BindingFlags.Instance | BindingFlags.NonPublic)!;

        Assert.Equal(Path.Combine(native, file), find.Invoke(context, ["fake"]));
        Assert.Equal(Path.Combine(native, file), find.Invoke(context, [file]));
        Assert.Null(find.Invoke(context, ["absent"]));
    }

    public void Dispose()
    {
        foreach (var context in _contexts) context.Unload();
        try { Directory.Delete(_scratch, recursive: true); }
        catch (IOException) { /* a temp folder; swept eventually */ }
    }

    private AssemblyLoadContext NewContext(string powerShellDirectory, string? dependencies = null)
    {
        var context = (AssemblyLoadContext)Activator.CreateInstance(ContextType.Value, BindingFlags.Instance | BindingFlags.NonPublic, null,
            [dependencies ?? Dependencies, powerShellDirectory, true], null)!;
        _contexts.Add(context);
        return context;
    }

    private string EmptyPowerShellDirectory() => Directory.CreateDirectory(Path.Combine(_scratch, "pshome-" + Guid.NewGuid().ToString("N"))).FullName;

    private static bool EngineLoaded(AssemblyLoadContext context) =>
        (bool)ContextType.Value.GetProperty("EngineLoaded", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(context)!;

    private static Assembly? ResolveEngine(AssemblyLoadContext context, AssemblyName name) =>
        (Assembly?)ContextType.Value.GetMethod("ResolveEngine", BindingFlags.Instance | BindingFlags.NonPublic)!.Invoke(context, [AssemblyLoadContext.Default, name]);

    private static Type? NpgsqlTypeInSignatures(Assembly engine)
    {
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        Type[] types;
        try { types = engine.GetTypes(); }
        catch (ReflectionTypeLoadException e) { throw new Xunit.Sdk.XunitException($"The engine's types did not load in the module context: {e.LoaderExceptions.FirstOrDefault()?.Message}"); }
        foreach (var type in types)
        {
            var signatures = type.GetFields(All).Select(f => f.FieldType)
                .Concat(type.GetProperties(All).Select(p => p.PropertyType))
                .Concat(type.GetMethods(All).SelectMany(m => m.GetParameters().Select(p => p.ParameterType).Append(m.ReturnType)));
            foreach (var t in signatures.SelectMany(Flatten))
                if (t.Assembly.GetName().Name == "Npgsql") return t;
        }
        return null;
    }

    private static IEnumerable<Type> Flatten(Type type) =>
        type.HasElementType ? Flatten(type.GetElementType()!)
        : type.IsConstructedGenericType ? type.GetGenericArguments().SelectMany(Flatten).Prepend(type)
        : [type];

    /// <summary>An assembly with nothing in it but a name and a version: an older copy as $PSHOME might hold.</summary>
    private static void WriteEmptyAssembly(string path, string name, Version version)
    {
        var builder = new PersistedAssemblyBuilder(new AssemblyName(name) { Version = version }, typeof(object).Assembly);
        builder.DefineDynamicModule(name).DefineType("Placeholder", TypeAttributes.Public | TypeAttributes.Class).CreateType();
        builder.Save(path);
    }
}
