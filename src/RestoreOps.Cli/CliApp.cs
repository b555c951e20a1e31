using System.CommandLine;
using System.Globalization;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.ObjectStore;

namespace RestoreOps.Cli;

/// <summary>
/// The <c>restoreops</c> command line: the same engine as the PowerShell module, for containers and CI.
/// Exit codes: 0 passed, 1 the restore or a check failed, 2 usage or configuration error, 3 infrastructure error.
/// </summary>
public static class CliApp
{
    /// <summary>Exit code: drill passed.</summary>
    public const int Passed = 0;
    /// <summary>Exit code: the restore or a check failed.</summary>
    public const int Failed = 1;
    /// <summary>Exit code: bad usage or configuration.</summary>
    public const int UsageError = 2;
    /// <summary>Exit code: the environment failed.</summary>
    public const int InfrastructureError = 3;

    /// <summary>How this front end names inputs in messages: its options (<c>--endpoint-url</c>).</summary>
    internal const InputSpelling Spelling = InputSpelling.Cli;

    /// <summary>The command tree: every command and option the CLI has.</summary>
    internal static RootCommand BuildRoot(TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("RestoreOps: prove that PostgreSQL backups restore. Restores a backup into a throwaway instance, verifies it, records evidence, and cleans up.");
        root.Subcommands.Add(DrillCommand(stdout, stderr));
        root.Subcommands.Add(BackupsCommand(stdout, stderr));
        root.Subcommands.Add(TargetsCommand(stdout, stderr));
        root.Subcommands.Add(RecoveryPointsCommand.Create(stdout, stderr));
        root.Subcommands.Add(EvidenceCommands.EvidenceCommand(stdout, stderr));
        root.Subcommands.Add(EvidenceCommands.HistoryCommand(stdout, stderr));
        root.Subcommands.Add(RbacCommand.Create(stdout));
        return root;
    }

    /// <summary>Runs the command line. <paramref name="cancellationToken"/> stands in for Ctrl+C in tests.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        var parse = BuildRoot(stdout, stderr).Parse(args);
        // A script that asked for JSON reads stdout as JSON whatever happened; the human message still goes to stderr.
        var json = parse.CommandResult.Command.Options.OfType<Option<bool>>().FirstOrDefault(o => o.Name == "--json") is { } jsonOption && parse.GetValue(jsonOption);
        var config = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Cleanup after Ctrl+C stops PostgreSQL and deletes the restore; give it time instead of the default 2 s.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(120),
            // Our failures carry their own message and fix; a stack trace would bury them.
            EnableDefaultExceptionHandler = false,
        };
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine would exit 1, which this CLI reserves for a failed restore or check.
            foreach (var error in parse.Errors) await stderr.WriteLineAsync($"restoreops: {error.Message}").ConfigureAwait(false);
            var names = new List<string>();
            for (var c = parse.CommandResult; c is not null && c != parse.RootCommandResult; c = c.Parent as System.CommandLine.Parsing.CommandResult)
                names.Insert(0, c.Command.Name);
            await stderr.WriteLineAsync($"Run 'restoreops {string.Join(' ', names)}{(names.Count > 0 ? " " : "")}--help' for the options and their forms.").ConfigureAwait(false);
            if (json) await WriteJsonErrorAsync(stdout, FailureKind.Configuration, string.Join(" ", parse.Errors.Select(e => e.Message)), null, null, UsageError).ConfigureAwait(false);
            return UsageError;
        }
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Kubernetes stops a CronJob's pod with SIGTERM (then SIGKILL after the grace period): treat it like
        // Ctrl+C, so the restore is stopped and removed and the record is written, instead of dying mid-restore.
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            linked.Cancel();
        });
        try
        {
            return await parse.InvokeAsync(config, linked.Token).ConfigureAwait(false);
        }
        catch (RestoreOpsException e)
        {
            await stderr.WriteLineAsync($"restoreops: {e.Render(Spelling)}").ConfigureAwait(false);
            var code = e.Kind == FailureKind.Configuration ? UsageError : e.Kind == FailureKind.RestoreFailed ? Failed : InfrastructureError;
            if (json)
                await WriteJsonErrorAsync(stdout, e.Kind, e.MessageFor(Spelling), e.FixFor(Spelling), e.Parameter is { } key ? InputKeys.Name(key, Spelling) : null, code).ConfigureAwait(false);
            return code;
        }
        catch (OperationCanceledException) when (linked.IsCancellationRequested)
        {
            await stderr.WriteLineAsync("restoreops: cancelled.").ConfigureAwait(false);
            if (json) await WriteJsonErrorAsync(stdout, FailureKind.Infrastructure, "cancelled", null, null, InfrastructureError).ConfigureAwait(false);
            return InfrastructureError;
        }
        catch (Exception e)
        {
            // A bug must still end in a message and a stable exit code, not an abort with a core dump (exit 134).
            var message = Redactor.Redact($"internal error: {e.GetType().Name}: {e.Message}. This is a bug in RestoreOps; please report it with the command line (without secrets).")!;
            await stderr.WriteLineAsync($"restoreops: {message}").ConfigureAwait(false);
            if (json) await WriteJsonErrorAsync(stdout, FailureKind.Infrastructure, message, null, null, InfrastructureError).ConfigureAwait(false);
            return InfrastructureError;
        }
    }

    /// <summary>A failure as the one JSON document a <c>--json</c> run prints: what went wrong, the fix, the option at fault, the exit code.</summary>
    private static Task WriteJsonErrorAsync(TextWriter stdout, FailureKind kind, string message, string? fix, string? option, int exitCode) =>
        stdout.WriteLineAsync(Redactor.Redact(System.Text.Json.JsonSerializer.Serialize(
            new { Error = new { Kind = kind, Message = message, Fix = fix, Option = option, ExitCode = exitCode } }, DrillRecordJson.Options)));

    /// <summary>A Barman Cloud source and how to reach it: what every command that reads a catalogue or its WAL takes.</summary>
    internal sealed class SourceOptions
    {
        public readonly Option<string?> Source = new("--source") { HelpName = "s3://BUCKET/PATH", Description = "Barman Cloud destination path, e.g. s3://bucket/path (what CNPG calls destinationPath)." };
        public readonly Option<string?> ServerName = new("--server-name") { HelpName = "NAME", Description = "Barman server name: the folder under the destination path (CNPG: the source cluster's name or its serverName)." };
        public readonly Option<string?> EndpointUrl = new("--endpoint-url") { HelpName = "URL", Description = "S3-compatible endpoint URL (MinIO, Ceph, s3rver). Default: AWS, or AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL." };
        public readonly Option<string?> Region = new("--region") { HelpName = "REGION", Description = "Object store region. Default: AWS_REGION / AWS_DEFAULT_REGION." };
        public readonly Option<string?> AccessKeyId = new("--access-key-id") { HelpName = "KEY-ID", Description = "Access key id. The secret is read from AWS_SECRET_ACCESS_KEY, never from the command line (it would show in ps)." };
        public readonly Option<string?> ReadTimeout = new("--read-timeout") { HelpName = "DURATION", Description = "Longest wait for the next bytes of an object before the read is retried from where it stopped (default 60s; e.g. 30s, 2m)." };

        public void AddTo(Command c)
        {
            c.Options.Add(Source); c.Options.Add(ServerName); c.Options.Add(EndpointUrl); c.Options.Add(Region); c.Options.Add(AccessKeyId); c.Options.Add(ReadTimeout);
        }

        public ObjectStoreOptions ObjectStore(ParseResult r) => new ObjectStoreOptions
        {
            EndpointUrl = r.GetValue(EndpointUrl),
            Region = r.GetValue(Region),
            AccessKeyId = r.GetValue(AccessKeyId),
            ReadInactivityTimeout = r.GetValue(ReadTimeout) is { } timeout ? InputDuration.Parse(timeout, "--read-timeout") : null,
        }.Resolve();

        /// <summary>The server name that must accompany --source; refused with the fix when missing.</summary>
        public string RequireServerName(ParseResult r) => r.GetValue(ServerName) ?? throw new ConfigurationException(
            $"--source {r.GetValue(Source)} needs --server-name: the Barman server folder under it.",
            "Pass --server-name NAME (for CNPG, the source cluster's name unless it set serverName).");
    }

    private static Command BackupsCommand(TextWriter stdout, TextWriter stderr)
    {
        var src = new SourceOptions();
        var all = new Option<bool>("--all") { Description = "Also list backups that are not DONE (failed, in progress)." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var k8s = new KubernetesOptions();
        var list = new Command("list", "List the backups of a Barman Cloud server or of a CNPG cluster, newest first.");
        src.AddTo(list);
        k8s.AddTo(list);
        list.Options.Add(all);
        list.Options.Add(json);
        list.SetAction(async (r, ct) =>
        {
            if (r.GetValue(k8s.Cluster) is { } cluster)
            {
                if (r.GetValue(src.Source) is not null)
                    throw new ConfigurationException("backups list takes --source or --cnpg-cluster, not both.", "Drop one of them.");
                await using var engine = new RestoreEngine(Spelling);
                var cnpgBackups = await engine.GetCnpgBackupsAsync(k8s.Access(r), r.GetValue(k8s.Namespace), cluster, ct).ConfigureAwait(false);
                return await PrintBackupsAsync(cnpgBackups, r.GetValue(json), stdout, stderr).ConfigureAwait(false);
            }
            if (r.GetValue(src.Source) is null)
                throw new ConfigurationException("backups list needs --source s3://bucket/path or --cnpg-cluster NAME.", "Pass --source and --server-name, or --cnpg-cluster and --namespace.");
            await using var barman = new RestoreEngine(Spelling);
            var everything = await barman.GetBarmanBackupsAsync(r.GetValue(src.Source)!, src.RequireServerName(r), src.ObjectStore(r), includeUnusable: true, ct).ConfigureAwait(false);
            var backups = r.GetValue(all) ? everything : everything.Where(b => b.Status == BackupStatus.Done).ToList();
            // A damaged backup.info is never listed as usable, but hiding it would hide why the newest backup is older than expected.
            foreach (var b in everything.Except(backups).Where(b => b.Status == BackupStatus.Unknown && b.Error is not null))
                await stderr.WriteLineAsync($"restoreops: backup {b.Id} is unusable: {b.Error}").ConfigureAwait(false);
            return await PrintBackupsAsync(backups, r.GetValue(json), stdout, stderr).ConfigureAwait(false);
        });
        var backupsCommand = new Command("backups", "Inspect backup catalogues; take an on-demand CNPG backup.");
        backupsCommand.Subcommands.Add(list);
        backupsCommand.Subcommands.Add(CnpgCommands.BackupsCreate(stdout, stderr));
        return backupsCommand;
    }

    private static async Task<int> PrintBackupsAsync(IReadOnlyList<Backup> backups, bool json, TextWriter stdout, TextWriter stderr)
    {
        if (json)
        {
            await stdout.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(backups, DrillRecordJson.Options)).ConfigureAwait(false);
            return Passed;
        }
        await stdout.WriteLineAsync($"{"ID",-17} {"STATUS",-8} {"END (UTC)",-20} {"AGE",-12} {"BEGIN WAL",-25} NAME").ConfigureAwait(false);
        foreach (var b in backups)
        {
            await stdout.WriteLineAsync($"{b.Id,-17} {b.Status,-8} {b.EndTime?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-",-20} {FormatAge(b.Age),-12} {b.BeginWal ?? "-",-25} {b.Name}").ConfigureAwait(false);
            if (b.Error is { } why) await stdout.WriteLineAsync($"{"",-17} problem: {why}").ConfigureAwait(false);
        }
        if (backups.Count == 0) await stderr.WriteLineAsync("No backups found.").ConfigureAwait(false);
        return Passed;
    }

    /// <summary>
    /// <c>restoreops targets list|remove|sweep</c>: the restore targets on this machine (local work directories) and, with
    /// --cnpg, in Kubernetes; what Get-/Remove-RestoreCluster [-Orphaned] do in PowerShell. A CronJob sweeps before it drills.
    /// </summary>
    private static Command TargetsCommand(TextWriter stdout, TextWriter stderr)
    {
        var workDir = new Option<string?>("--work-dir") { HelpName = "DIR", Description = "Where local targets live (default: the temp directory)." };
        var withCnpg = new Option<bool>("--cnpg") { Description = "Also CNPG recovery Clusters labelled as RestoreOps' (in --namespace, or every namespace with --all-namespaces)." };
        var allNamespaces = new Option<bool>("--all-namespaces", "-A") { Description = "With --cnpg: every namespace." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var name = new Argument<string>("NAME") { Description = "The target's name (as targets list shows it)." };
        var k8s = new KubernetesOptions();

        RestoreClusterQuery Query(ParseResult r, bool orphaned, string? only = null) => new()
        {
            WorkRoot = InputPaths.Absolute(r.GetValue(workDir), workDir.Name),
            IncludeCnpg = r.GetValue(withCnpg),
            Kubernetes = k8s.Access(r),
            Namespace = r.GetValue(k8s.Namespace),
            AllNamespaces = r.GetValue(allNamespaces),
            OrphanedOnly = orphaned,
            Name = only,
        };
        Command Make(string verb, string description)
        {
            var c = new Command(verb, description);
            foreach (var o in new Option[] { workDir, withCnpg, allNamespaces, json, k8s.Namespace, k8s.Kubeconfig, k8s.Context }) c.Options.Add(o);
            return c;
        }

        var list = Make("list", "List restore targets: local work directories, and with --cnpg the labelled recovery Clusters.");
        list.SetAction(async (r, ct) =>
        {
            await using var engine = new RestoreEngine(Spelling);
            var targets = await engine.GetAsync(Query(r, orphaned: false), ct).ConfigureAwait(false);
            if (r.GetValue(json)) await stdout.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(targets, DrillRecordJson.Options)).ConfigureAwait(false);
            else
            {
                await stdout.WriteLineAsync($"{"NAME",-40} {"KIND",-6} {"PURPOSE",-9} {"PHASE",-12} EXPIRES (UTC)").ConfigureAwait(false);
                foreach (var t in targets)
                    await stdout.WriteLineAsync($"{t,-40} {t.Kind,-6} {t.Purpose,-9} {t.Phase,-12} {t.ExpiresAt?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) ?? "never"}").ConfigureAwait(false);
            }
            return Passed;
        });

        var remove = Make("remove", "Remove one restore target by name (stops it and deletes what RestoreOps created for it; recovery targets too).");
        remove.Arguments.Add(name);
        remove.SetAction(async (r, ct) =>
        {
            await using var engine = new RestoreEngine(Spelling);
            var wanted = r.GetValue(name)!;
            var target = (await engine.GetAsync(Query(r, orphaned: false, wanted), ct).ConfigureAwait(false)).FirstOrDefault()
                ?? throw new ConfigurationException($"No restore target named {wanted}.", "List them with: restoreops targets list (add --cnpg for CNPG targets).");
            var outcome = await engine.RemoveAsync(target, k8s.Access(r), ct).ConfigureAwait(false);
            return await PrintRemovalsAsync([new RemovalResult(target, outcome)], r.GetValue(json), stdout).ConfigureAwait(false);
        });

        var sweep = Make("sweep", "Remove drill targets past their expiry (and half-made ones of killed runs); recovery targets are never swept.");
        sweep.SetAction(async (r, ct) =>
        {
            await using var engine = new RestoreEngine(Spelling);
            var results = await engine.RemoveOrphanedAsync(Query(r, orphaned: true), ct).ConfigureAwait(false);
            return await PrintRemovalsAsync(results, r.GetValue(json), stdout).ConfigureAwait(false);
        });

        var targetsCommand = new Command("targets", "List, remove and sweep restore targets.");
        targetsCommand.Subcommands.Add(list);
        targetsCommand.Subcommands.Add(remove);
        targetsCommand.Subcommands.Add(sweep);
        return targetsCommand;
    }

    private static async Task<int> PrintRemovalsAsync(IReadOnlyList<RemovalResult> results, bool json, TextWriter stdout)
    {
        if (json)
            await stdout.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(results.Select(x => new { target = x.Cluster.ToString(), kind = x.Cluster.Kind, outcome = x.Outcome }), DrillRecordJson.Options)).ConfigureAwait(false);
        else
            foreach (var x in results) await stdout.WriteLineAsync($"{x.Cluster}: {x.Outcome}").ConfigureAwait(false);
        // Something left behind is the environment's problem, as a drill's incomplete cleanup is.
        return results.All(x => x.Outcome.Succeeded) ? Passed : InfrastructureError;
    }

    private static string FormatAge(TimeSpan? age) => age switch
    {
        null => "-",
        // Within the clock-skew allowance a backup is just new; beyond it the catalogue has no valid age to show.
        { } a when a < TimeSpan.Zero => -a <= InputLimits.ClockSkewAllowance ? "0m0s" : "future!",
        { TotalDays: >= 1 } a => $"{(int)a.TotalDays}d{a.Hours}h",
        { TotalHours: >= 1 } a => $"{(int)a.TotalHours}h{a.Minutes}m",
        { } a => $"{(int)a.TotalMinutes}m{a.Seconds}s",
    };

    /// <summary>How long a drill's restore may take to become ready when --timeout is not given.</summary>
    internal static readonly TimeSpan DefaultTimeout = RestoreDefaults.ReadyTimeout;

    private static Command DrillCommand(TextWriter stdout, TextWriter stderr)
    {
        var src = new SourceOptions();
        var demo = new Option<bool>("--demo") { Description = "Run the embedded demo: a sample database, a real backup, writes around a target, and a point-in-time restore. Needs only the PostgreSQL server." };
        var backupId = new Option<string?>("--backup-id") { HelpName = "ID", Description = "Restore this backup id (default: the newest DONE backup)." };
        var baseBackup = new Option<string?>("--base-backup") { HelpName = "DIR", Description = "A pg_basebackup -Ft directory to restore." };
        var walArchive = new Option<string?>("--wal-archive") { HelpName = "DIR", Description = "The WAL archive directory for --base-backup." };
        var dump = new Option<string?>("--dump") { HelpName = "FILE", Description = "A pg_dump -Fc file to restore into a fresh instance." };
        var targetTime = new Option<string?>("--target-time") { HelpName = "TIME", Description = "Recover to this time (ISO 8601; no offset means UTC)." };
        var targetLsn = new Option<string?>("--target-lsn") { HelpName = "LSN", Description = "Recover to this WAL location, e.g. 0/7000060." };
        var targetXid = new Option<string?>("--target-xid") { HelpName = "XID", Description = "Recover to this transaction id." };
        var targetName = new Option<string?>("--target-name") { HelpName = "RESTORE-POINT", Description = "Recover to this restore point (pg_create_restore_point)." };
        var targetImmediate = new Option<bool>("--target-immediate") { Description = "Stop as soon as the backup is consistent." };
        var targetExclusive = new Option<bool>("--target-exclusive") { Description = "Stop just before the --target-time, --target-lsn or --target-xid instead of just after it (what recovery-points offers)." };
        var database = new Option<string?>("--database") { HelpName = "DATABASE", Description = "Database the checks run in (default: the dump's database, else postgres)." };
        var expectRows = new Option<string[]>("--expect-rows") { HelpName = "TABLE=N|TABLE=MIN..MAX", Description = "Row-count check, repeatable: TABLE=N or TABLE=MIN..MAX (TABLE may be schema.table).", Arity = ArgumentArity.ZeroOrMore };
        var expectSql = new Option<string[]>("--expect-sql") { HelpName = "'SQL => EXPECTED'", Description = "Scalar SQL check, repeatable: 'SQL => EXPECTED', e.g. 'select count(*) from orders => 11000'.", Arity = ArgumentArity.ZeroOrMore };
        var checksFile = new Option<string?>("--checks") { HelpName = "FILE", Description = "A check file (YAML; see docs/checks.md) run against the restored database." };
        var evidence = new Option<string?>("--evidence") { HelpName = "DIR", Description = "Directory for the evidence: <drillId>.json (sealed with a SHA-256 digest), .junit.xml, .md, .html, .prom. Earlier records there feed trends and relative checks." };
        var maxBackupAge = new Option<string?>("--max-backup-age") { HelpName = "DURATION", Description = "RPO objective: the newest backup may be at most this old (e.g. 26h, 7d, PT30M)." };
        var maxDataAge = new Option<string?>("--max-data-age") { HelpName = "DURATION", Description = "RPO objective: the restored data's newest commit may be at most this old." };
        var maxRestoreTime = new Option<string?>("--max-restore-time") { HelpName = "DURATION", Description = "RTO objective: the restore (download to ready) may take at most this long." };
        var heartbeatUrl = new Option<string?>("--heartbeat-url") { HelpName = "URL", Description = "Pinged only when the drill passes and its evidence is recorded (a dead man's switch such as healthchecks.io): silence is the alarm. Shows in ps: prefer --heartbeat-url-env." };
        var heartbeatUrlEnv = new Option<string?>("--heartbeat-url-env") { HelpName = "VARIABLE", Description = "Environment variable holding the --heartbeat-url, so its token stays out of ps and shell history (e.g. from a Kubernetes Secret)." };
        var pushgatewayUrl = new Option<string?>("--pushgateway-url") { HelpName = "URL", Description = "Prometheus Pushgateway to push the drill's metrics to." };
        var textfile = new Option<string?>("--textfile") { HelpName = "FILE", Description = "Also write the metrics here, for node-exporter's textfile collector." };
        var signKeyEnv = new Option<string?>("--sign-key-env") { HelpName = "VARIABLE", Description = "Environment variable holding a key to HMAC-sign the record (default: RESTOREOPS_SIGNING_KEY when set)." };
        var json = new Option<bool>("--json") { Description = "Print the drill record as JSON on stdout." };
        var keep = new Option<bool>("--keep") { Description = "Leave the restored instance running for inspection (remove its work directory yourself)." };
        var osUser = new Option<string?>("--os-user") { HelpName = "USER", Description = "OS account that runs PostgreSQL when restoreops runs as root (default: postgres)." };
        var pgBin = new Option<string?>("--pg-bin") { HelpName = "DIR", Description = "Directory of the PostgreSQL binaries (default: PG_BIN, PATH, /usr/lib/postgresql/<major>/bin)." };
        var workDir = new Option<string?>("--work-dir") { HelpName = "DIR", Description = "Parent directory for the restore's files (default: the temp directory)." };
        var timeout = new Option<string?>("--timeout") { HelpName = "DURATION", Description = $"How long the restore may take to become ready before it fails: a duration (90s, 30m, 1h30m, PT45M) or a number of seconds, at most {InputDuration.Format(InputLimits.MaxTimeout)}. Default 30m." };
        var walWindow = new Option<string?>("--wal-window") { HelpName = "N", Description = $"WAL segments fetched ahead of the one replay asked for, which bounds the spool's disk use: 1 to {InputLimits.MaxWalWindow}. Default: 4 x --wal-parallelism, at least 16." };
        var walParallelism = new Option<string?>("--wal-parallelism") { HelpName = "N", Description = $"WAL files fetched at once ahead of replay: 1 to {InputLimits.MaxWalParallelism}. Default 8." };
        var drillId = new Option<string?>("--drill-id") { HelpName = "ID", Description = "Drill id (default: generated)." };
        var k8s = new KubernetesOptions();
        var drillNamespace = new Option<string?>("--drill-namespace") { HelpName = "NAMESPACE", Description = "CNPG: the namespace the recovery Cluster is created in (default: the context's namespace; never the source's unless they are the same by choice)." };
        var backupName = new Option<string?>("--backup-name") { HelpName = "BACKUP", Description = "CNPG: restore this Backup resource (default: the newest completed one)." };
        var cnpgDrill = new CnpgCommands.DrillOptions();
        var purpose = new Option<string?>("--purpose") { HelpName = "drill|recovery", Description = "drill (default): the target is thrown away. recovery: the target is kept (never swept, outlives this process) for an incident; needs --name." };
        var restoreName = new Option<string?>("--name") { HelpName = "NAME", Description = "The target's name. Local: its drill id (work directory restoreops-NAME). CNPG: the recovery Cluster's name." };
        var owner = new Option<string?>("--owner") { HelpName = "OWNER", Description = "Who owns the procedure, for the evidence (default: the check file's owner:)." };
        var note = new Option<string[]>("--note") { HelpName = "TEXT", Description = "A note for the evidence, repeatable: a step that needed human judgement.", Arity = ArgumentArity.ZeroOrMore };

        var cmd = new Command("drill", "Restore a backup into a throwaway PostgreSQL (local, or a CNPG recovery Cluster), verify it, record the evidence, and clean up.");
        src.AddTo(cmd);
        k8s.AddTo(cmd);
        cmd.Options.Add(drillNamespace);
        cmd.Options.Add(backupName);
        foreach (var o in cnpgDrill.All) cmd.Options.Add(o);
        foreach (var o in new Option[] { demo, backupId, baseBackup, walArchive, dump, targetTime, targetLsn, targetXid, targetName, targetImmediate, targetExclusive,
                     database, expectRows, expectSql, checksFile, evidence, json, keep, osUser, pgBin, workDir, timeout, walParallelism, walWindow, drillId,
                     maxBackupAge, maxDataAge, maxRestoreTime, heartbeatUrl, heartbeatUrlEnv, pushgatewayUrl, textfile, signKeyEnv, purpose, restoreName, owner, note })
            cmd.Options.Add(o);

        cmd.SetAction(async (r, ct) =>
        {
            var sources = new[] { r.GetValue(demo) ? "--demo" : null, r.GetValue(src.Source) is null ? null : "--source",
                r.GetValue(baseBackup) is null ? null : "--base-backup", r.GetValue(dump) is null ? null : "--dump",
                r.GetValue(k8s.Cluster) is null ? null : "--cnpg-cluster" }.OfType<string>().ToList();
            if (sources.Count != 1)
                throw new ConfigurationException(
                    sources.Count == 0 ? "drill needs a backup to restore." : $"drill takes one source, got {string.Join(" and ", sources)}.",
                    "Pass exactly one of --demo, --source s3://… --server-name NAME, --base-backup DIR --wal-archive DIR, --dump FILE, or --cnpg-cluster NAME --namespace NS.");
            var cnpg = r.GetValue(k8s.Cluster) is not null;
            // Each of these shapes only a local restore; silently ignoring one would drill something else than asked.
            foreach (var localOnly in new Option[] { osUser, pgBin, workDir, walParallelism, walWindow, walArchive, backupId })
                if (cnpg && r.GetResult(localOnly) is { Implicit: false })
                    throw new ConfigurationException($"{localOnly.Name} applies to local restores, not to --cnpg-cluster.", $"Drop {localOnly.Name}.");
            foreach (var cnpgOnly in (Option[])[drillNamespace, backupName, .. cnpgDrill.All])
                if (!cnpg && r.GetResult(cnpgOnly) is { Implicit: false })
                    throw new ConfigurationException($"{cnpgOnly.Name} applies to --cnpg-cluster drills.", $"Drop {cnpgOnly.Name}, or drill a CNPG cluster.");

            // The source's own shape is checked before credentials are resolved: a missing server name is the
            // simpler mistake and must be the one reported.
            if (r.GetValue(src.Source) is not null) src.RequireServerName(r);
            // Every path is resolved here, against the directory restoreops was started in: later stages run in others.
            string? PathOf(Option<string?> o) => InputPaths.Absolute(r.GetValue(o), o.Name);
            var evidenceDir = PathOf(evidence);
            var id = DrillIds.Validate(r.GetValue(drillId), InputKey.DrillId);
            var restorePurpose = r.GetValue(purpose) switch
            {
                null or "drill" => RestorePurpose.Drill,
                "recovery" => RestorePurpose.Recovery,
                var other => throw new ConfigurationException($"--purpose '{other}' is not a purpose.", "Pass --purpose drill (thrown away) or --purpose recovery (kept, with --name)."),
            };
            // Plain seconds as before, so existing schedules keep working; any duration besides.
            var readyTimeout = r.GetValue(timeout) is { } timeoutText
                ? InputDuration.Parse(timeoutText, InputKey.Timeout, InputLimits.MaxTimeout, numberIsSeconds: true)
                : DefaultTimeout;
            // A reused id is refused before a restore is spent on it: its evidence could not be recorded.
            if (id is not null && evidenceDir is not null) EvidenceWriter.EnsureNewRecord(evidenceDir, id);
            var target = ParseTarget(r.GetValue(targetTime), r.GetValue(targetLsn), r.GetValue(targetXid), r.GetValue(targetName), r.GetValue(targetImmediate), r.GetValue(targetExclusive));
            // Everything that can be wrong with the input is found before anything is restored.
            var objectives = new DrillObjectives
            {
                MaxBackupAge = r.GetValue(maxBackupAge) is { } a ? InputDuration.Parse(a, InputKey.MaxBackupAge) : null,
                MaxDataAge = r.GetValue(maxDataAge) is { } da ? InputDuration.Parse(da, InputKey.MaxDataAge) : null,
                MaxRestoreTime = r.GetValue(maxRestoreTime) is { } t ? InputDuration.Parse(t, InputKey.MaxRestoreTime) : null,
            };
            var keyName = r.GetValue(signKeyEnv);
            var signingKey = RecordSeal.KeyFromEnvironment(keyName ?? RecordSeal.DefaultKeyVariable);
            if (keyName is not null && signingKey is null)
                throw new ConfigurationException($"--sign-key-env {keyName}: that environment variable is not set or empty.", $"Export {keyName} or drop --sign-key-env.");
            var objectStore = r.GetValue(src.Source) is null ? null : src.ObjectStore(r);
            var parallelism = InputCount.Parse(r.GetValue(walParallelism), InputKey.WalParallelism, RestoreDefaults.WalParallelism, 1, InputLimits.MaxWalParallelism, "WAL files");
            var query = cnpg ? BackupQuery.Cnpg(k8s.Access(r), r.GetValue(k8s.Namespace), r.GetValue(k8s.Cluster)!, r.GetValue(backupName))
                : r.GetValue(demo) ? BackupQuery.Demo()
                : objectStore is not null ? BackupQuery.Barman(r.GetValue(src.Source)!, src.RequireServerName(r), r.GetValue(backupId), objectStore)
                : PathOf(baseBackup) is { } bb ? BackupQuery.Local(bb, PathOf(walArchive))
                : BackupQuery.Local(PathOf(dump)!);
            var request = new DrillRequest
            {
                Source = query,
                Restore = new RestoreRequest
                {
                    Kind = cnpg ? RestoreTargetKind.Cnpg : RestoreTargetKind.Local,
                    RecoveryTarget = target,
                    DrillId = id,
                    Purpose = restorePurpose,
                    Name = r.GetValue(restoreName),
                    Namespace = r.GetValue(drillNamespace),
                    Kubernetes = k8s.Access(r),
                    OsUser = r.GetValue(osUser),
                    PostgresBinDirectory = PathOf(pgBin),
                    WorkRoot = PathOf(workDir),
                    WalParallelism = parallelism,
                    WalWindow = InputCount.Parse(r.GetValue(walWindow), InputKey.WalWindow, RestoreDefaults.WalWindow(parallelism), 1, InputLimits.MaxWalWindow, "WAL segments"),
                    ObjectStore = objectStore,
                    ObjectStoreName = cnpg ? r.GetValue(cnpgDrill.ObjectStore) : null,
                    Connect = cnpg ? cnpgDrill.Route(r) : ConnectRoute.Auto,
                },
                Checks = new CheckSpec
                {
                    Path = PathOf(checksFile),
                    Checks = QuickChecks(r.GetValue(expectRows) ?? [], r.GetValue(expectSql) ?? []),
                    Settings = r.GetValue(database) is { } db ? new System.Collections.Hashtable { ["database"] = db } : null,
                    Objectives = objectives,
                    EvidenceDirectory = evidenceDir,
                },
                ReadyTimeout = readyTimeout,
                Keep = r.GetValue(keep),
                EvidencePath = evidenceDir,
                SigningKey = signingKey,
                HeartbeatUrl = HeartbeatUrl(r.GetValue(heartbeatUrl), r.GetValue(heartbeatUrlEnv)),
                PushgatewayUrl = ParseUrl(r.GetValue(pushgatewayUrl), "--pushgateway-url"),
                TextfileCollectorPath = PathOf(textfile),
                Owner = r.GetValue(owner),
                Notes = r.GetValue(note) ?? [],
                Command = CommandLine.Of(r),
            };
            return await DrillAsync(request, r.GetValue(json), new TerminalProgress(stderr), stdout, stderr, ct).ConfigureAwait(false);
        });
        return cmd;
    }

    /// <summary>
    /// A drill through the engine, whatever the source (a CNPG cluster, a Barman catalogue, a local backup, the demo): one
    /// record, one set of verdicts and exit codes, one cleanup; then what the record means for whoever reads the output.
    /// </summary>
    private static async Task<int> DrillAsync(DrillRequest request, bool json, IProgress<DrillProgress> progress, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        await using var engine = new RestoreEngine(Spelling);
        var run = await engine.RunDrillAsync(request, progress, ct).ConfigureAwait(false);
        var record = run.Record;
        foreach (var file in run.EvidenceFiles.Where(f => f.EndsWith(".json", StringComparison.Ordinal)))
            await stderr.WriteLineAsync($"Evidence written to {file}").ConfigureAwait(false);
        foreach (var warning in run.Warnings) await stderr.WriteLineAsync($"restoreops: {warning}").ConfigureAwait(false);
        if (json) await stdout.WriteLineAsync(DrillRecordJson.Serialize(record)).ConfigureAwait(false);
        else await WriteSummaryAsync(stdout, record).ConfigureAwait(false);
        if (run.KeptTarget is { } kept) await WriteKeptAsync(stderr, kept, request.Restore.WorkRoot).ConfigureAwait(false);
        // Scheduled jobs often keep only stderr: the reason must be there too.
        if (record.FailureMessage is { } why) await stderr.WriteLineAsync($"restoreops: drill {record.Verdict.ToString().ToLowerInvariant()}: {why}").ConfigureAwait(false);
        // A passed drill whose evidence is missing is not a pass a schedule may count.
        return !run.Recorded && record.Verdict == DrillVerdict.Passed ? UsageError : ExitCode(record);
    }

    /// <summary>How to reach a kept target and how to remove it, in commands this CLI has.</summary>
    private static async Task WriteKeptAsync(TextWriter stderr, RestoreCluster kept, string? workRoot)
    {
        var until = kept.Purpose == RestorePurpose.Recovery || kept.ExpiresAt is null
            ? "until you remove it (a recovery target: never swept, and it outlives this process)"
            : $"until {kept.ExpiresAt:yyyy-MM-dd HH:mm} UTC (then a sweep may remove it)";
        if (kept.Kind == RestoreTargetKind.Local && kept.Connection is { } c)
        {
            // The private socket needs no password, so nothing secret is printed.
            await stderr.WriteLineAsync($"The restored instance {kept.Name} keeps running {until}.").ConfigureAwait(false);
            await stderr.WriteLineAsync($"Connect as root or the OS user that runs it: psql -h {c.SocketDirectory ?? c.Host} -p {c.Port} -U {c.Username} {c.Database}").ConfigureAwait(false);
            await stderr.WriteLineAsync($"  socket {c.SocketDirectory ?? "-"}, port {c.Port}, user {c.Username}, database {c.Database}").ConfigureAwait(false);
            await stderr.WriteLineAsync($"Remove it when done: restoreops targets remove {kept.Name}{(workRoot is null ? "" : $" --work-dir {workRoot}")}").ConfigureAwait(false);
        }
        else
        {
            await stderr.WriteLineAsync($"The recovery Cluster {kept} is kept {until}.").ConfigureAwait(false);
            // CNPG's read/write Service always follows the primary: what an application's connection string names.
            await stderr.WriteLineAsync($"Point the application at Service {kept.Name}-rw{(kept.Namespace is null ? "" : $" in namespace {kept.Namespace}")} (port 5432; the credentials are in Secret {kept.Name}-app).").ConfigureAwait(false);
            await stderr.WriteLineAsync($"Remove it when done: restoreops targets remove {kept.Name} --cnpg{(kept.Namespace is null ? "" : $" --namespace {kept.Namespace}")}").ConfigureAwait(false);
        }
    }

    /// <summary>--expect-rows and --expect-sql in the check-file form the engine's checks take (database from --database or the default).</summary>
    internal static IReadOnlyList<System.Collections.IDictionary> QuickChecks(IEnumerable<string> rows, IEnumerable<string> sql)
    {
        var checks = new List<System.Collections.IDictionary>();
        foreach (var spec in rows)
        {
            var c = ParseRowCheck("-", spec);
            var d = new System.Collections.Hashtable { ["kind"] = "row-count", ["name"] = $"rows {c.Table}", ["table"] = c.Table };
            if (c.Minimum == c.Maximum && c.Minimum is { } exact) d["exact"] = exact;
            else
            {
                if (c.Minimum is { } min) d["min"] = min;
                if (c.Maximum is { } max) d["max"] = max;
            }
            checks.Add(d);
        }
        var i = 0;
        foreach (var spec in sql)
        {
            var c = ParseSqlCheck("-", spec, ++i);
            checks.Add(new System.Collections.Hashtable { ["kind"] = "sql", ["name"] = c.Name, ["query"] = c.Sql, ["equals"] = c.Expected });
        }
        return checks;
    }

    /// <summary>Maps a record to the CLI's stable exit codes.</summary>
    public static int ExitCode(DrillRecord record) => record.Verdict switch
    {
        DrillVerdict.Passed => Passed,
        DrillVerdict.Failed => Failed,
        _ => record.FailureCategory == DrillFailureCategory.Configuration ? UsageError : InfrastructureError,
    };

    /// <summary>The heartbeat URL from --heartbeat-url or, keeping its token out of ps, from the variable --heartbeat-url-env names.</summary>
    internal static Uri? HeartbeatUrl(string? url, string? variable)
    {
        if (variable is null) return ParseUrl(url, "--heartbeat-url");
        if (url is not null)
            throw new ConfigurationException("--heartbeat-url and --heartbeat-url-env both give the heartbeat URL.", "Pass only --heartbeat-url-env NAME (it keeps the URL's token out of ps).");
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
            throw new ConfigurationException($"--heartbeat-url-env {variable}: that environment variable is not set or empty.", $"Export {variable} with the ping URL, or drop --heartbeat-url-env.");
        // The value is a secret: the error names the variable, never its content.
        return Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new ConfigurationException($"--heartbeat-url-env {variable}: its value is not an http(s) URL.", $"Set {variable} to the full ping URL, e.g. https://hc-ping.com/<uuid>.");
    }

    private static Uri? ParseUrl(string? value, string option)
    {
        if (value is null) return null;
        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
            return uri;
        throw new ConfigurationException($"{option} '{value}' is not an http(s) URL.", $"Pass a full URL, e.g. {option} https://hc-ping.com/<uuid>.");
    }

    internal static RecoveryTarget ParseTarget(string? time, string? lsn, string? xid, string? name, bool immediate, bool exclusive = false)
    {
        if (exclusive && time is null && lsn is null && xid is null)
            throw new ConfigurationException("--target-exclusive applies to --target-time, --target-lsn and --target-xid.", "Add one of them, or drop --target-exclusive.");
        var given = new[] { time is null ? null : "--target-time", lsn is null ? null : "--target-lsn", xid is null ? null : "--target-xid",
            name is null ? null : "--target-name", immediate ? "--target-immediate" : null }.OfType<string>().ToList();
        if (given.Count > 1)
            throw new ConfigurationException($"Recovery targets are mutually exclusive, got {string.Join(" and ", given)}.", "Pass one of them.");
        if (time is not null)
        {
            if (!DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
                throw new ConfigurationException($"--target-time '{time}' is not a time.", "Write it as ISO 8601, e.g. 2026-11-21T14:46:30Z (no offset means UTC).");
            return RecoveryTarget.AtTime(t, inclusive: !exclusive);
        }
        if (lsn is not null)
        {
            try { return RecoveryTarget.AtLsn(lsn, inclusive: !exclusive); }
            catch (ArgumentException e) { throw new ConfigurationException($"--target-lsn: {e.Message}", "Write it as PostgreSQL prints it, e.g. 0/7000060."); }
        }
        if (xid is not null)
            return ulong.TryParse(xid, NumberStyles.None, CultureInfo.InvariantCulture, out var x) ? RecoveryTarget.AtXid(x, inclusive: !exclusive)
                : throw new ConfigurationException($"--target-xid '{xid}' is not a transaction id.", "Pass a positive integer, e.g. 7331.");
        if (name is not null)
        {
            // PostgreSQL keeps restore point names to 63 bytes and refuses a longer recovery_target_name at startup.
            if (string.IsNullOrWhiteSpace(name) || System.Text.Encoding.UTF8.GetByteCount(name) > 63)
                throw new ConfigurationException($"--target-name '{(name.Length <= 80 ? name : name[..80] + "…")}' is not a restore point name.",
                    "Pass the name given to pg_create_restore_point: 1 to 63 bytes.");
            return RecoveryTarget.AtRestorePoint(name);
        }
        return immediate ? RecoveryTarget.Immediate : RecoveryTarget.Latest;
    }

    internal static RowCountCheck ParseRowCheck(string database, string spec)
    {
        var eq = spec.LastIndexOf('=');
        var fix = "Write --expect-rows TABLE=N or TABLE=MIN..MAX, e.g. public.orders=11000 or orders=10000..12000.";
        if (eq <= 0) throw new ConfigurationException($"--expect-rows '{spec}' has no '='.", fix);
        var table = spec[..eq].Trim();
        var bounds = spec[(eq + 1)..].Trim();
        var parts = bounds.Split("..");
        long? Parse(string s) => s.Length == 0 ? null
            : long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
            : throw new ConfigurationException($"--expect-rows '{spec}': '{s}' is not a row count.", fix);
        return parts.Length switch
        {
            1 => new RowCountCheck(database, table, Parse(parts[0]) ?? throw new ConfigurationException($"--expect-rows '{spec}' has no count.", fix), Parse(parts[0])),
            2 => new RowCountCheck(database, table, Parse(parts[0]), Parse(parts[1])),
            _ => throw new ConfigurationException($"--expect-rows '{spec}' has more than one '..'.", fix),
        };
    }

    internal static SqlScalarCheck ParseSqlCheck(string database, string spec, int index)
    {
        var arrow = spec.LastIndexOf("=>", StringComparison.Ordinal);
        if (arrow <= 0)
            throw new ConfigurationException($"--expect-sql '{spec}' has no '=>'.", "Write it as 'SQL => EXPECTED', e.g. 'select count(*) from orders => 11000'.");
        return new SqlScalarCheck($"sql #{index}", database, spec[..arrow].Trim(), spec[(arrow + 2)..].Trim());
    }

    private static async Task WriteSummaryAsync(TextWriter o, DrillRecord record)
    {
        await o.WriteLineAsync($"Drill {record.DrillId}: {record.Verdict.ToString().ToUpperInvariant()}").ConfigureAwait(false);
        if (record.Backup is { } b)
            await o.WriteLineAsync($"  backup      {b.Method} {b.Id} ended {b.EndTime:yyyy-MM-dd HH:mm:ss}Z, age {FormatAge(record.BackupAge)}").ConfigureAwait(false);
        await o.WriteLineAsync($"  target      {record.RecoveryTarget}; achieved {record.AchievedRecoveryTime?.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) ?? "-"}Z at {record.AchievedRecoveryLsn ?? "-"}").ConfigureAwait(false);
        foreach (var p in record.Phases)
            await o.WriteLineAsync($"  {p.Phase,-11} {p.Duration.TotalSeconds,7:0.000}s {(p.Succeeded ? "ok  " : "FAIL")} {p.Detail}").ConfigureAwait(false);
        if (record.RestoreDuration is { } rto) await o.WriteLineAsync($"  restore time (RTO) {rto.TotalSeconds:0.000}s; total {record.TotalDuration.TotalSeconds:0.000}s").ConfigureAwait(false);
        foreach (var c in record.Checks) await o.WriteLineAsync($"  check {c}").ConfigureAwait(false);
        await o.WriteLineAsync($"  cleanup     {record.Cleanup}").ConfigureAwait(false);
        if (record.FailureMessage is { } m) await o.WriteLineAsync($"  why         {m}").ConfigureAwait(false);
    }
}

/// <summary>
/// Renders engine progress as one line per change on standard error. A download's byte counts redraw one line in
/// place on a terminal; in a log (redirected, CI) they are written every few seconds, and at retries and the end.
/// </summary>
internal sealed class TerminalProgress(TextWriter stderr) : IProgress<DrillProgress>
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(5);
    private readonly object _gate = new();
    private readonly bool _terminal = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
    private string? _last;
    private TimeSpan _lastTransferLine;
    private string? _lastRetrying;
    private int _openLine;

    public void Report(DrillProgress value)
    {
        var line = $"[{value.Phase}] {value.Activity}{(value.Status is null ? "" : $" ({value.Status})")}";
        lock (_gate)
        {
            if (line == _last) return;
            var sameActivity = _last?.StartsWith($"[{value.Phase}] {value.Activity}", StringComparison.Ordinal) == true;
            if (value.Transfer is { } transfer && sameActivity)
            {
                if (_terminal)
                {
                    stderr.Write("\r" + line.PadRight(_openLine));
                    _openLine = line.Length;
                    _last = line;
                    return;
                }
                var now = _clock.Elapsed;
                var final = transfer.TotalBytes is { } total && transfer.BytesTransferred >= total;
                if (!final && transfer.Retrying == _lastRetrying && now - _lastTransferLine < LogInterval) return;
                _lastTransferLine = now;
                _lastRetrying = transfer.Retrying;
            }
            if (_openLine > 0) stderr.WriteLine();
            _openLine = 0;
            _last = line;
            stderr.WriteLine(line);
        }
    }
}
