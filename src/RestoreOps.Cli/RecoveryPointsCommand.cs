using System.CommandLine;
using System.Globalization;
using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;

namespace RestoreOps.Cli;

/// <summary><c>restoreops recovery-points</c>: the destructive transactions in a window of archived WAL, each with the target that restores to just before it.</summary>
internal static class RecoveryPointsCommand
{
    internal static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var src = new CliApp.SourceOptions();
        var wal = new Option<string?>("--wal-archive") { HelpName = "DIR", Description = "A local WAL archive directory instead of a Barman server." };
        var from = new Option<string?>("--from") { HelpName = "TIME|DURATION", Description = "Start of the window: a time (ISO 8601, UTC without offset) or how long ago (2h). Default: 24h before --to." };
        var to = new Option<string?>("--to") { HelpName = "TIME|DURATION", Description = "End of the window. Default: when the newest segment was archived." };
        var minRows = new Option<string?>("--min-rows") { HelpName = "N", Description = "Rows one transaction must delete or update in one table to be listed. Default 1000." };
        var resolveEnv = new Option<string?>("--resolve-database-env") { HelpName = "VARIABLE", Description = "Environment variable holding a connection string whose catalogue names the tables (the source, or a target restored to before the change)." };
        var pgBin = new Option<string?>("--pg-bin") { HelpName = "DIR", Description = "PostgreSQL binaries whose pg_waldump reads the WAL (default: the one matching its version)." };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var cmd = new Command("recovery-points", "List destructive transactions (TRUNCATE, DROP, DELETE/UPDATE of many rows) in a window of archived WAL, newest first, with the recovery target just before each. Fetches only the window's WAL; prints no row data.");
        src.AddTo(cmd);
        foreach (var o in new Option[] { wal, from, to, minRows, resolveEnv, pgBin, json }) cmd.Options.Add(o);
        cmd.SetAction(async (r, ct) =>
        {
            var now = DateTimeOffset.UtcNow;
            string? connection = null;
            if (r.GetValue(resolveEnv) is { } variable)
            {
                connection = Environment.GetEnvironmentVariable(variable);
                if (string.IsNullOrWhiteSpace(connection))
                    throw new ConfigurationException($"--resolve-database-env {variable}: that environment variable is not set or empty.", $"Export {variable} with a connection string, or drop --resolve-database-env.");
            }
            var query = new RecoveryPointQuery
            {
                DestinationPath = r.GetValue(src.Source),
                ServerName = r.GetValue(src.Source) is null ? null : src.RequireServerName(r),
                ObjectStore = r.GetValue(src.Source) is null ? null : src.ObjectStore(r),
                WalDirectory = InputPaths.Absolute(r.GetValue(wal), wal.Name),
                From = r.GetValue(from) is { } f ? InputTime.Parse(f, InputKey.From, now) : null,
                To = r.GetValue(to) is { } t ? InputTime.Parse(t, InputKey.To, now) : null,
                MinimumRows = InputCount.Parse(r.GetValue(minRows), InputKey.MinimumRows, 1000, 1, int.MaxValue, "rows"),
                ResolveConnectionString = connection,
                PostgresBinDirectory = InputPaths.Absolute(r.GetValue(pgBin), pgBin.Name),
            };
            await using var engine = new RestoreEngine(CliApp.Spelling);
            var points = await engine.FindRecoveryPointsAsync(query, new TerminalProgress(stderr), ct).ConfigureAwait(false);
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(points.Select(p => new
                {
                    p.CommitTime, p.Xid, p.CommitLsn, p.Timeline, Operation = p.Operation.ToString(), p.Relation, p.RelFileNode, p.Rows,
                    TargetXid = p.Xid, TargetExclusive = true, RecoveryTarget = p.RecoveryTarget.ToString(),
                }), DrillRecordJson.Options)).ConfigureAwait(false);
                return CliApp.Passed;
            }
            await stdout.WriteLineAsync($"{"COMMITTED (UTC)",-27} {"XID",-10} {"OPERATION",-9} {"ROWS",-8} {"RELATION",-30} RESTORE JUST BEFORE IT WITH").ConfigureAwait(false);
            foreach (var p in points)
                await stdout.WriteLineAsync($"{p.CommitTime.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture),-27} {p.Xid,-10} {p.Operation.ToString().ToUpperInvariant(),-9} {p.Rows?.ToString(CultureInfo.InvariantCulture) ?? "-",-8} {p.Relation ?? p.RelFileNode,-30} --target-xid {p.Xid} --target-exclusive").ConfigureAwait(false);
            if (points.Count == 0) await stderr.WriteLineAsync("No destructive transactions in the window.").ConfigureAwait(false);
            return CliApp.Passed;
        });
        return cmd;
    }
}
