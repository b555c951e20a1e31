using System.Management.Automation;
using System.Management.Automation.Host;
using System.Management.Automation.Runspaces;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using RestoreOps.Automation;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>
/// Import and removal hooks PowerShell calls for this module. On import the default load context learns to find the
/// engine (RestoreOps.dll) through <see cref="ModuleLoadContext"/>, which loads it and its third-party dependencies
/// from <c>Dependencies/</c>; on removal of the last import the local drill targets this process still runs are
/// removed and the hook is taken away again.
/// </summary>
/// <remarks>Not meant to be called from scripts: PowerShell instantiates it when the module is imported or removed.</remarks>
public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly object Gate = new();
    // Each runspace that imports the module calls OnImport and each that removes it calls OnRemove, while the
    // assembly, the handler and the engine's tracked targets are per process: only the last removal may act.
    private static int s_imports;
    private static bool s_subscribed;
    private static ModuleLoadContext? s_context;

    /// <summary>Subscribes the engine resolver to the default load context (once per process, however many runspaces import).</summary>
    public void OnImport()
    {
        lock (Gate)
        {
            s_imports++;
            if (s_subscribed) return;
            AssemblyLoadContext.Default.Resolving += Resolve;
            s_subscribed = true;
        }
    }

    /// <summary>On the last removal: removes the local drill targets this process created, then unsubscribes the resolver.</summary>
    /// <param name="psModuleInfo">The module being removed.</param>
    public void OnRemove(PSModuleInfo psModuleInfo)
    {
        ModuleLoadContext? context;
        lock (Gate)
        {
            if (s_imports == 0 || --s_imports > 0) return;
            context = s_context;
        }
        try
        {
            // An engine that was never loaded created no targets; loading it here would only cost time.
            if (context is { EngineLoaded: true }) Tell(psModuleInfo, RemoveLocalDrillTargets());
        }
        finally
        {
            lock (Gate)
            {
                // An import that came in while the targets were being removed keeps the resolver.
                if (s_imports == 0 && s_subscribed)
                {
                    AssemblyLoadContext.Default.Resolving -= Resolve;
                    s_subscribed = false;
                }
            }
        }
    }

    private static Assembly? Resolve(AssemblyLoadContext requestingContext, AssemblyName name) =>
        ModuleLoadContext.IsEngine(name) ? Context.ResolveEngine(requestingContext, name) : null;

    // One context per process, kept across Remove-Module/Import-Module: PowerShell never unloads the module's
    // assembly, and a second copy of the engine would not know the targets the first one tracks.
    private static ModuleLoadContext Context
    {
        get
        {
            lock (Gate)
            {
                return s_context ??= new ModuleLoadContext(
                    Path.Combine(Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)!, "Dependencies"),
                    Path.GetDirectoryName(typeof(PSObject).Assembly.Location));
            }
        }
    }

    // Kept out of OnRemove so that compiling OnRemove does not itself make the runtime load the engine.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IReadOnlyList<string> RemoveLocalDrillTargets() =>
        // What stays is swept by Remove-RestoreCluster -Orphaned after its expiry; the engine tries again at exit.
        ModuleEngine.Release();

    /// <summary>
    /// Remove-Module has no output of its own for a module to write to: the host of the runspace removing the module
    /// shows the lines as warnings, so cleanup on removal is never silent.
    /// </summary>
    private static void Tell(PSModuleInfo module, IReadOnlyList<string> lines)
    {
        if (lines.Count == 0) return;
        try
        {
            // Remove-Module runs on the runspace's pipeline thread, so the session's $Host is reached through the module's
            // session state, or a nested pipeline of the current runspace (its SessionStateProxy refuses a running pipeline).
            var host = module.SessionState?.PSVariable.GetValue("Host") as PSHost;
            if (host is null && Runspace.DefaultRunspace is not null)
            {
                using var ps = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
                host = ps.AddCommand("Get-Variable").AddParameter("Name", "Host").AddParameter("ValueOnly").Invoke().FirstOrDefault()?.BaseObject as PSHost;
            }
            foreach (var line in lines) host?.UI.WriteWarningLine(line);
        }
        catch (Exception e) when (e is InvalidOperationException or NotImplementedException or PSInvalidOperationException or RuntimeException)
        {
            // A host without a UI, or no runspace at all (process exit): nothing can show the lines.
        }
    }
}
