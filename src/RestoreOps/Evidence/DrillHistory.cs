using System.Text.Json;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>A record file that could not be read.</summary>
/// <param name="Path">The file.</param>
/// <param name="Message">Why, naming the fix.</param>
public sealed record HistoryProblem(string Path, string Message);

/// <summary>
/// The records in an evidence folder, and per source the last proven restore. A source whose last passed drill is
/// older than the threshold is Stale: the schedule stopped or keeps failing, and that silence is the alarm.
/// </summary>
/// <example>
/// <code>
/// var history = DrillHistory.Load("/evidence");
/// foreach (var p in history.LastProvenRestores(DateTimeOffset.UtcNow, TimeSpan.FromDays(7)))
///     Console.WriteLine($"{p.Source}: {p.Status}");
/// </code>
/// </example>
public sealed class DrillHistory
{
    /// <summary>Source name used for records that carry none.</summary>
    public const string UnknownSource = "unknown";

    /// <summary>Records, oldest first.</summary>
    public IReadOnlyList<DrillRecord> Records { get; }
    /// <summary>Files that looked like records but could not be read.</summary>
    public IReadOnlyList<HistoryProblem> Problems { get; }

    private DrillHistory(IReadOnlyList<DrillRecord> records, IReadOnlyList<HistoryProblem> problems)
    {
        Records = records;
        Problems = problems;
    }

    /// <summary>Reads every <c>*.json</c> record in <paramref name="directory"/> (not recursive).</summary>
    /// <exception cref="ConfigurationException">The folder does not exist.</exception>
    public static DrillHistory Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new ConfigurationException($"Evidence folder '{directory}' does not exist.", $"Pass the folder given as {InputKey.EvidencePath.Ref()} when the drills ran.");
        var records = new List<DrillRecord>();
        var problems = new List<HistoryProblem>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                var json = File.ReadAllText(file);
                // A record changed after it was written proves nothing, and must not feed trends or relative checks.
                if (RecordSeal.Verify(json, null) is { Status: SealStatus.DigestMismatch } seal)
                {
                    problems.Add(new(file, seal.Message));
                    continue;
                }
                records.Add(DrillRecordJson.Deserialize(json));
            }
            catch (JsonException e)
            {
                problems.Add(new(file, $"not a drill record ({e.Message}); move other JSON files out of the evidence folder."));
            }
            catch (IOException e)
            {
                problems.Add(new(file, $"could not be read ({e.Message})."));
            }
        }
        return new DrillHistory(records.OrderBy(r => r.StartedAt).ToList(), problems);
    }

    /// <summary>Records of one source, oldest first.</summary>
    public IEnumerable<DrillRecord> ForSource(string? source) =>
        Records.Where(r => (r.Source ?? UnknownSource) == (source ?? UnknownSource));

    /// <summary>Per source, the last proven restore and whether it is older than <paramref name="staleAfter"/>.</summary>
    public IReadOnlyList<ProvenRestore> LastProvenRestores(DateTimeOffset now, TimeSpan staleAfter) =>
        Records.GroupBy(r => r.Source ?? UnknownSource, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g =>
            {
                var lastRun = g.MaxBy(r => r.StartedAt)!;
                var lastPassed = g.Where(r => r.Verdict == DrillVerdict.Passed).MaxBy(r => r.EndedAt);
                if (lastPassed is null) return new ProvenRestore(g.Key, null, lastRun, null, ProofStatus.NeverProven);
                var age = now - lastPassed.EndedAt;
                return new ProvenRestore(g.Key, lastPassed, lastRun, age, age > staleAfter ? ProofStatus.Stale : ProofStatus.Fresh);
            })
            .ToList();
}
