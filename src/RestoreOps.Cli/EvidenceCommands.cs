using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RestoreOps.Evidence;
using RestoreOps.Model;

namespace RestoreOps.Cli;

/// <summary>
/// <c>restoreops evidence verify FILE</c> and <c>restoreops history DIR</c>. Exit codes follow the CLI's: 0 good,
/// 1 a record failed verification or a source is stale, 2 usage or configuration error.
/// </summary>
internal static class EvidenceCommands
{
    /// <summary><c>evidence verify FILE [--key-env NAME] [--json]</c>: recomputes the digest (and signature) of a record.</summary>
    internal static Command EvidenceCommand(TextWriter stdout, TextWriter stderr)
    {
        var file = new Argument<string>("FILE") { Description = "A <drillId>.json record written by restoreops." };
        var keyEnv = new Option<string?>("--key-env")
        {
            HelpName = "VARIABLE",
            Description = $"Environment variable holding the HMAC key to check the signature with (default: {RecordSeal.DefaultKeyVariable}, if set). Naming one makes a missing key or signature an error.",
        };
        var json = new Option<bool>("--json") { Description = "Print the verdict as JSON: file, ok, status, signatureChecked, message." };
        var verify = new Command("verify", "Check that a drill record is unchanged since it was written: recompute its SHA-256 digest and, with a key, its HMAC signature.");
        verify.Arguments.Add(file);
        verify.Options.Add(keyEnv);
        verify.Options.Add(json);
        verify.SetAction(async (r, ct) =>
        {
            var path = InputPaths.Absolute(r.GetValue(file)!, "FILE")!;
            if (!File.Exists(path))
                throw new ConfigurationException($"Record file '{path}' does not exist.", "Pass the path of a <drillId>.json file from the evidence folder.");
            var named = r.GetValue(keyEnv);
            var key = RecordSeal.KeyFromEnvironment(named ?? RecordSeal.DefaultKeyVariable);
            if (named is not null && key is null)
                throw new ConfigurationException($"--key-env {named}: that environment variable is not set or empty.", $"Export {named} with the signing key the record was written with.");
            var result = RecordSeal.Verify(await File.ReadAllTextAsync(path, ct).ConfigureAwait(false), key, CliApp.Spelling);
            // A named key is a promise to check the signature: a record without one must not pass quietly.
            var ok = result.IsValid && (named is null || result.SignatureChecked);
            var line = $"{path}: {(ok ? "OK" : "FAILED")} ({result.Status}). {result.Message}";
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(new { File = path, Ok = ok, result.Status, result.SignatureChecked, result.Message }, DrillRecordJson.Options)).ConfigureAwait(false);
                if (!ok) await stderr.WriteLineAsync(line).ConfigureAwait(false);
            }
            else await (ok ? stdout : stderr).WriteLineAsync(line).ConfigureAwait(false);
            return ok ? CliApp.Passed : result.Status == SealStatus.Malformed ? CliApp.UsageError : CliApp.Failed;
        });
        var evidence = new Command("evidence", "Work with drill evidence records.");
        evidence.Subcommands.Add(verify);
        return evidence;
    }

    /// <summary><c>history DIR [--stale-after 7d] [--json]</c>: the last proven restore per source; exit 1 when any is stale or never proven.</summary>
    internal static Command HistoryCommand(TextWriter stdout, TextWriter stderr)
    {
        var dir = new Argument<string>("DIR") { Description = "The evidence folder (what --evidence pointed at)." };
        var staleAfter = new Option<string>("--stale-after")
        {
            HelpName = "DURATION",
            Description = "A source whose last passed drill is older than this is Stale (exit 1): a duration such as 36h, 7d, P7D.",
            DefaultValueFactory = _ => "7d",
        };
        var json = new Option<bool>("--json") { Description = "Print JSON." };
        var cmd = new Command("history", "Show the last proven restore of each source in an evidence folder, and whether it is stale.");
        cmd.Arguments.Add(dir);
        cmd.Options.Add(staleAfter);
        cmd.Options.Add(json);
        cmd.SetAction(async (r, ct) =>
        {
            var threshold = InputDuration.Parse(r.GetValue(staleAfter)!, InputKey.StaleAfter);
            var history = DrillHistory.Load(InputPaths.Absolute(r.GetValue(dir)!, "DIR")!);
            var now = DateTimeOffset.UtcNow;
            var proofs = history.LastProvenRestores(now, threshold);
            foreach (var p in history.Problems) await stderr.WriteLineAsync($"restoreops: skipped {p.Path}: {p.Message}").ConfigureAwait(false);
            if (r.GetValue(json))
            {
                var doc = new
                {
                    GeneratedAt = now,
                    StaleAfter = threshold,
                    Sources = proofs.Select(p => new
                    {
                        p.Source, p.Status, LastProvenRestore = p.LastPassed?.EndedAt, p.Age, LastPassedDrillId = p.LastPassed?.DrillId,
                        LastRunDrillId = p.LastRun.DrillId, LastRunVerdict = p.LastRun.Verdict, LastRunAt = p.LastRun.StartedAt,
                        RestoreDuration = p.LastPassed?.RestoreDuration, BackupAge = p.LastPassed?.BackupAge, DataAge = p.LastPassed?.DataAge,
                    }),
                    Problems = history.Problems,
                };
                await stdout.WriteLineAsync(Redactor.Redact(JsonSerializer.Serialize(doc, DrillRecordJson.Options))).ConfigureAwait(false);
            }
            else
            {
                var sb = new StringBuilder();
                sb.AppendLine(CultureInfo.InvariantCulture, $"{"STATUS",-12} {"LAST PROVEN (UTC)",-20} {"AGE",-9} {"RTO",-9} {"LAST RUN",-8} SOURCE");
                foreach (var p in proofs)
                    sb.AppendLine(CultureInfo.InvariantCulture,
                        $"{p.Status,-12} {p.LastPassed?.EndedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "never",-20} {(p.Age is { } a ? DurationText.Format(a) : "-"),-9} {(p.LastPassed?.RestoreDuration is { } rto ? DurationText.Format(rto) : "-"),-9} {p.LastRun.Verdict,-8} {p.Source}");
                if (proofs.Count == 0) sb.AppendLine("No drill records found.");
                await stdout.WriteAsync(Redactor.Redact(sb.ToString())).ConfigureAwait(false);
            }
            var bad = proofs.Where(p => p.Status != ProofStatus.Fresh).ToList();
            foreach (var p in bad)
                await stderr.WriteLineAsync(Redactor.Redact(p.Status == ProofStatus.NeverProven
                    ? $"restoreops: {p.Source}: no drill has ever passed (last run {p.LastRun.DrillId}: {p.LastRun.Verdict}). Fix the drill before you need the backup."
                    : $"restoreops: {p.Source}: last proven restore is {DurationText.Format(p.Age!.Value)} old, over --stale-after {DurationText.Format(threshold)}. Check that the drill schedule still runs and passes.")).ConfigureAwait(false);
            // No records at all is as silent as a stopped schedule.
            return bad.Count > 0 || proofs.Count == 0 ? CliApp.Failed : CliApp.Passed;
        });
        return cmd;
    }
}
