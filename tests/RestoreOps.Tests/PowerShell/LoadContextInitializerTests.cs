using System.Reflection;
using System.Runtime.Loader;
using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// ModuleInitializer's import and removal hooks, called as PowerShell calls them, in a context standing in for a
/// PowerShell process: the module assembly from the built module, System.Management.Automation from the
/// PowerShellStandard stub (the hooks only use its interfaces), and the engine reachable only through the hooks'
/// resolver, as in PowerShell, where the engine is not next to the module assembly.
/// </summary>
/// <remarks>
/// That OnImport subscribes the resolver to the default context cannot be seen from this host: its default context
/// (and the test runner's AssemblyResolve handler) answers for RestoreOps before any Resolving handler is asked.
/// What is seen is when removal calls into the engine to remove local drill targets.
/// </remarks>
public sealed class LoadContextInitializerTests
{
    private const string InitializerTypeName = "RestoreOps.PowerShell.Infrastructure.ModuleInitializer";

    [Fact]
    public void Only_the_last_removal_cleans_up()
    {
        var host = new PowerShellStandIn();
        var first = host.NewInitializer();
        var second = host.NewInitializer();
        Import(first);
        Import(second); // a second runspace of the same process
        host.LoadEngine();
        var before = host.EngineRequests;

        Remove(first);
        Assert.Equal(before, host.EngineRequests); // the other runspace still uses the engine and its targets

        Remove(second);
        Assert.True(host.EngineRequests > before, "the last removal did not call into the engine to remove local drill targets");
    }

    [Fact]
    public void Removal_does_not_load_the_engine_to_clean_up_when_it_was_never_loaded()
    {
        var host = new PowerShellStandIn();
        var initializer = host.NewInitializer();

        Import(initializer);
        Remove(initializer);

        Assert.Equal(0, host.EngineRequests);
    }

    [Fact]
    public void Removal_cleans_up_through_the_engine_when_it_was_loaded()
    {
        var host = new PowerShellStandIn();
        var initializer = host.NewInitializer();
        Import(initializer);
        host.LoadEngine();
        var before = host.EngineRequests;

        Remove(initializer);

        // Compiling the cleanup call binds the module assembly's reference to the engine, through the hooks.
        Assert.True(host.EngineRequests > before, "the last removal did not call into the engine to remove local drill targets");
    }

    private static void Import(object initializer) =>
        initializer.GetType().GetMethod("OnImport")!.Invoke(initializer, null);

    private static void Remove(object initializer) =>
        initializer.GetType().GetMethod("OnRemove")!.Invoke(initializer, [null]);

    /// <summary>
    /// Stands in for PowerShell's process. Each instance loads its own copy of the module assembly, so each test gets
    /// fresh static state in ModuleInitializer, as a new PowerShell process would.
    /// </summary>
    private sealed class PowerShellStandIn() : AssemblyLoadContext("PowerShell stand-in")
    {
        private Assembly? _module;
        private int _engineRequests;

        public int EngineRequests => Volatile.Read(ref _engineRequests);

        public object NewInitializer()
        {
            _module ??= LoadFromAssemblyPath(BuiltModule.Instance.PowerShellAssemblyPath);
            return Activator.CreateInstance(_module.GetType(InitializerTypeName, throwOnError: true)!)!;
        }

        /// <summary>What the first cmdlet that calls the engine does: the module's reference to it is resolved through the hooks.</summary>
        public void LoadEngine()
        {
            var engine = LoadFromAssemblyName(new AssemblyName("RestoreOps"));
            Assert.Equal(Path.Combine(BuiltModule.Instance.DependencyDirectory, "RestoreOps.dll"), engine.Location);
            Assert.NotSame(Default, GetLoadContext(engine));
        }

        protected override Assembly? Load(AssemblyName name)
        {
            switch (name.Name)
            {
                case "System.Management.Automation":
                    return LoadFromAssemblyPath(ModuleMetadata.PowerShellStandardStub());
                case "RestoreOps":
                    // PowerShell's default context has no engine: it asks the Resolving handlers, the hooks' among them.
                    Interlocked.Increment(ref _engineRequests);
                    var resolve = _module!.GetType(InitializerTypeName, throwOnError: true)!
                        .GetMethod("Resolve", BindingFlags.NonPublic | BindingFlags.Static)!;
                    return (Assembly?)resolve.Invoke(null, [Default, name])
                        ?? throw new FileNotFoundException("The engine is not resolvable: the module's hooks are not installed.", name.FullName);
                default:
                    return null; // the BCL and RestoreOps.Model from the default context, as in PowerShell
            }
        }
    }
}
