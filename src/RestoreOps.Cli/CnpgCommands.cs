using System.CommandLine;
using System.Globalization;
using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;

namespace RestoreOps.Cli;

/// <summary>
/// The CLI's CNPG-only pieces that are not the drill body: <c>backups create</c> (an on-demand backup before a drill), and
/// the drill's <c>--object-store</c> and <c>--connect</c> options.
/// </summary>
internal static class CnpgCommands
{
    /// <summary>
    /// <c>restoreops backups create --cnpg-cluster NAME --namespace NS [--method M] [--wait [--timeout 30m]] [--json]</c>: what
    /// New-CnpgBackup does. The one write into a source namespace RestoreOps makes, and only on this explicit command.
    /// </summary>
    public static Command BackupsCreate(TextWriter stdout, TextWriter stderr)
    {
        var k8s = new KubernetesOptions();
        var method = new Option<string?>("--method") { HelpName = "METHOD", Description = "barmanObjectStore, plugin or volumeSnapshot (default: the way the cluster is configured: its backup plugin, else in-tree barmanObjectStore, else volume snapshots)." };
        var wait = new Option<bool>("--wait") { Description = "Wait (by watching the Backup) until it completed; a failed backup exits 1 with its error." };
        var timeout = new Option<string?>("--timeout") { HelpName = "DURATION", Description = "With --wait: how long the backup may take before it counts as failed (default 30m; e.g. 90s, 1h, PT45M)." };
        var json = new Option<bool>("--json") { Description = "Print the Backup as JSON." };
        var create = new Command("create",
            "Take an on-demand backup of a CNPG cluster (creates a Backup resource in its namespace, labelled app.kubernetes.io/created-by=restoreops; RestoreOps never changes or deletes it).");
        k8s.AddTo(create);
        create.Options.Add(method);
        create.Options.Add(wait);
        create.Options.Add(timeout);
        create.Options.Add(json);
        create.SetAction(async (r, ct) =>
        {
            var cluster = r.GetValue(k8s.Cluster) ?? throw new ConfigurationException("backups create needs the cluster to back up.",
                "Pass --cnpg-cluster NAME (and --namespace NS).", parameter: InputKey.CnpgCluster);
            if (!r.GetValue(wait) && r.GetResult(timeout) is { Implicit: false })
                throw new ConfigurationException("--timeout applies only with --wait.", "Add --wait, or drop --timeout.", parameter: InputKey.Timeout);
            var request = new CnpgBackupRequest
            {
                Cluster = cluster,
                Namespace = r.GetValue(k8s.Namespace),
                Method = r.GetValue(method),
                Wait = r.GetValue(wait),
                Timeout = r.GetValue(timeout) is { } text ? InputDuration.Parse(text, InputKey.Timeout, InputLimits.MaxTimeout, numberIsSeconds: true) : TimeSpan.FromMinutes(30),
                Kubernetes = k8s.Access(r),
            };
            await using var engine = new RestoreEngine(CliApp.Spelling);
            var backup = await engine.NewCnpgBackupAsync(request, new TerminalProgress(stderr), ct).ConfigureAwait(false);
            if (r.GetValue(json))
                await stdout.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(backup, DrillRecordJson.Options)).ConfigureAwait(false);
            else
                await stdout.WriteLineAsync(backup.Status == BackupStatus.Done
                    ? $"Backup {backup.Name} of {backup.Source} ({backup.Method}) completed: id {backup.Id}, ended {backup.EndTime?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC."
                    : $"Backup {backup.Name} of {backup.Source} ({backup.Method}) requested; the operator takes it now (add --wait to wait for it).").ConfigureAwait(false);
            return CliApp.Passed;
        });
        return create;
    }

    /// <summary>The CNPG drill's options for where the recovery reads its backups and how checks reach it.</summary>
    internal sealed class DrillOptions
    {
        public readonly Option<string?> ObjectStore = new("--object-store") { HelpName = "NAME", Description = "CNPG: restore through this Barman Cloud plugin ObjectStore, already provisioned in --drill-namespace (e.g. with read-only credentials); RestoreOps then copies nothing into that namespace. Default: copies of the source's ObjectStore or credential Secrets, removed with the drill." };
        public readonly Option<string?> Connect = new("--connect") { HelpName = "auto|service|port-forward", Description = "CNPG: how checks reach the recovery cluster: its <name>-rw.<namespace>.svc Service (inside a pod), a port-forward (from a laptop), or auto (Service when a service-account token is mounted). Default auto." };

        public IEnumerable<Option> All => [ObjectStore, Connect];

        /// <summary>The route --connect names.</summary>
        public ConnectRoute Route(ParseResult r) => r.GetValue(Connect) switch
        {
            null or "auto" => ConnectRoute.Auto,
            "service" => ConnectRoute.Service,
            "port-forward" => ConnectRoute.PortForward,
            var other => throw new ConfigurationException($"--connect '{other}' is not a connection route.",
                "Pass --connect auto, service or port-forward.", parameter: InputKey.Connect),
        };
    }
}
