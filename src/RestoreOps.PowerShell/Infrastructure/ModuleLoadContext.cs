using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using RestoreOps.Model;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>
/// The module's own load context for the engine (RestoreOps.dll) and its third-party assemblies in
/// <c>Dependencies/</c>, so their versions never clash with the ones PowerShell or another module (AWS Tools, Az,
/// dbatools…) already loaded. Only the engine is answered for from the default context; everything the engine then
/// needs is resolved here.
/// </summary>
/// <remarks>
/// Nothing here may touch System.Management.Automation: tests load this class in a plain .NET host, where only
/// the reference stub of that assembly exists. <see cref="ModuleInitializer"/> supplies PowerShell's directory.
/// </remarks>
internal sealed class ModuleLoadContext : AssemblyLoadContext
{
    /// <summary>The engine's simple name: the one assembly the default context is given from here.</summary>
    internal const string EngineName = "RestoreOps";

    // The copy the cmdlets' parameters and outputs are typed with. Handing the engine this very assembly (rather
    // than returning null and hoping the default context has loaded it already) keeps one set of pipeline types even
    // when engine code runs first, e.g. from a tab completer: PowerShell does not probe the module folder for an
    // assembly the engine asks for, so a null here would fail until a cmdlet happened to load the Model.
    private static readonly Assembly SharedModel = typeof(Backup).Assembly;

    private readonly string? _powerShellDirectory;
    private readonly ConcurrentDictionary<string, Version?> _powerShellVersions = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="dependencyDirectory">The module's <c>Dependencies/</c> folder.</param>
    /// <param name="powerShellDirectory">$PSHOME: assemblies PowerShell ships there at a sufficient version are taken from
    /// the default context instead, so objects crossing between PowerShell and the engine keep one type identity.
    /// Null defers to nothing.</param>
    /// <param name="isCollectible">Tests unload their contexts; PowerShell never unloads a module's assemblies.</param>
    internal ModuleLoadContext(string dependencyDirectory, string? powerShellDirectory, bool isCollectible = false)
        : base($"RestoreOps ({dependencyDirectory})", isCollectible)
    {
        DependencyDirectory = Path.GetFullPath(dependencyDirectory);
        _powerShellDirectory = powerShellDirectory is null ? null : Path.GetFullPath(powerShellDirectory);
    }

    /// <summary>Where the engine and its dependencies are loaded from.</summary>
    internal string DependencyDirectory { get; }

    /// <summary>True once the engine is loaded in this context; cleanup must not load it just to find nothing to clean.</summary>
    internal bool EngineLoaded => Assemblies.Any(a => IsEngine(a.GetName()));

    internal static bool IsEngine(AssemblyName name) => string.Equals(name.Name, EngineName, StringComparison.OrdinalIgnoreCase);

    /// <summary>Handler for <see cref="AssemblyLoadContext.Resolving"/> of the default context: the engine, and nothing else.</summary>
    internal Assembly? ResolveEngine(AssemblyLoadContext requestingContext, AssemblyName name) =>
        IsEngine(name) ? LoadFromAssemblyName(name) : null;

    /// <inheritdoc />
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name is not { Length: > 0 } name) return null;
        if (string.Equals(name, SharedModel.GetName().Name, StringComparison.OrdinalIgnoreCase)) return SharedModel;
        if (ProvidedByPowerShell(assemblyName)) return null;
        var path = Path.Combine(DependencyDirectory, RelativePath(assemblyName));
        // Not ours either: the default context's probing (the .NET shared framework) gets its turn.
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    /// <inheritdoc />
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
        FindNativeLibrary(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;

    /// <summary>A native library the engine's packages ship under <c>Dependencies/runtimes/&lt;rid&gt;/native/</c>, if any.</summary>
    internal string? FindNativeLibrary(string unmanagedDllName)
    {
        if (unmanagedDllName.IndexOfAny(['/', '\\']) >= 0) return null;
        foreach (var rid in RuntimeIdentifiers())
        {
            var folder = Path.Combine(DependencyDirectory, "runtimes", rid, "native");
            foreach (var file in NativeFileNames(unmanagedDllName))
            {
                var path = Path.Combine(folder, file);
                if (File.Exists(path)) return path;
            }
        }
        return null;
    }

    private bool ProvidedByPowerShell(AssemblyName requested)
    {
        if (_powerShellDirectory is null) return false;
        var relative = RelativePath(requested);
        var available = _powerShellVersions.GetOrAdd(relative, r => VersionOf(Path.Combine(_powerShellDirectory, r), requested.Name!));
        return available is not null && available >= (requested.Version ?? new Version(0, 0));
    }

    private static Version? VersionOf(string path, string expectedName)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var found = AssemblyName.GetAssemblyName(path);
            return string.Equals(found.Name, expectedName, StringComparison.OrdinalIgnoreCase) ? found.Version ?? new Version(0, 0) : null;
        }
        catch (BadImageFormatException)
        {
            return null; // a native library that happens to end in .dll
        }
    }

    // Satellite assemblies live in a folder named after their culture, as the SDK lays them out.
    private static string RelativePath(AssemblyName name) =>
        string.IsNullOrEmpty(name.CultureName) ? name.Name + ".dll" : Path.Combine(name.CultureName, name.Name + ".dll");

    private static IEnumerable<string> RuntimeIdentifiers()
    {
        yield return RuntimeInformation.RuntimeIdentifier;
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var portable = $"{os}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
        if (!string.Equals(portable, RuntimeInformation.RuntimeIdentifier, StringComparison.OrdinalIgnoreCase)) yield return portable;
    }

    // The spellings DllImport itself tries: as given, with the platform's suffix, with "lib" in front.
    private static IEnumerable<string> NativeFileNames(string name)
    {
        yield return name;
        if (OperatingSystem.IsWindows())
        {
            yield return name + ".dll";
            yield break;
        }
        var suffix = OperatingSystem.IsMacOS() ? ".dylib" : ".so";
        yield return name + suffix;
        if (name.StartsWith("lib", StringComparison.Ordinal)) yield break;
        yield return "lib" + name;
        yield return "lib" + name + suffix;
    }
}
