using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>Settings for <see cref="EvidenceWriter.WriteAllAsync"/>.</summary>
public sealed class EvidenceOptions
{
    /// <summary>HMAC-SHA256 key for the record's signature (from the environment: <see cref="RecordSeal.KeyFromEnvironment"/>); null: digest only.</summary>
    public byte[]? SigningKey { get; init; }
    /// <summary>Also write the Prometheus text to this file (e.g. the node-exporter textfile directory's <c>restoreops.prom</c>).</summary>
    public string? TextfileCollectorPath { get; init; }
}

/// <summary>The files <see cref="EvidenceWriter.WriteAllAsync"/> wrote.</summary>
/// <param name="Json">The sealed record, <c>&lt;drillId&gt;.json</c>: the durable evidence.</param>
/// <param name="JUnit"><c>&lt;drillId&gt;.junit.xml</c>.</param>
/// <param name="Markdown"><c>&lt;drillId&gt;.md</c>.</param>
/// <param name="Html"><c>&lt;drillId&gt;.html</c>.</param>
/// <param name="Prometheus"><c>&lt;drillId&gt;.prom</c>, plus the textfile collector copy when asked for.</param>
public sealed record EvidencePaths(string Json, string JUnit, string Markdown, string Html, IReadOnlyList<string> Prometheus)
{
    /// <summary>The runbook: the steps performed on the target with the commands that repeat them (<c>&lt;drillId&gt;.runbook.md</c>).</summary>
    public string? Runbook { get; init; }

    /// <summary>Every path written.</summary>
    public IEnumerable<string> All => new[] { Json, JUnit, Markdown, Html }.Concat(Runbook is null ? [] : [Runbook]).Concat(Prometheus);
}

/// <summary>
/// Writes every evidence format for a drill into one folder: the sealed JSON record, JUnit XML, Markdown, an HTML
/// report with trends from the folder's earlier records, and Prometheus text. Each file is written to a temporary
/// name and moved into place, so a reader never sees half a file. A record is never overwritten: a drill id used
/// before is refused, and the other files of that id are left alone (they belong to the earlier record).
/// </summary>
/// <example>
/// <code>
/// var paths = await EvidenceWriter.WriteAllAsync(record, "/evidence", new EvidenceOptions { SigningKey = RecordSeal.KeyFromEnvironment() }, ct);
/// Console.WriteLine(paths.Json);
/// </code>
/// </example>
public static class EvidenceWriter
{
    /// <summary>Writes all formats and returns their paths. Seals the record (sets its digest and signature) first.</summary>
    /// <exception cref="ConfigurationException">
    /// The drill id is not a safe file name, or <paramref name="directory"/> already holds a record of it. The textfile
    /// collector copy (a file replaced by every drill by design) is still written.
    /// </exception>
    public static async Task<EvidencePaths> WriteAllAsync(DrillRecord record, string directory, EvidenceOptions options, CancellationToken ct)
    {
        var jsonPath = DrillRecordJson.RecordPath(directory, record.DrillId);
        directory = Path.GetDirectoryName(jsonPath)!;
        Directory.CreateDirectory(directory);
        // Read before writing this record so a broken earlier file cannot stop today's evidence from being written.
        var earlier = DrillHistory.Load(directory).ForSource(record.Source).Where(r => r.DrillId != record.DrillId).ToList();
        var lastSuccess = LastSuccess(record, earlier);
        var metrics = PrometheusWriter.Write(record, lastSuccess);
        string json;
        try
        {
            json = await DrillRecordJson.WriteAsync(record, directory, options.SigningKey, ct).ConfigureAwait(false);
        }
        catch (ConfigurationException)
        {
            // The textfile is the latest drill's metrics, whatever became of its record: monitoring still sees the verdict.
            if (options.TextfileCollectorPath is { } path) await WriteFileAsync(path, metrics, ct).ConfigureAwait(false);
            throw;
        }
        var stem = Path.Combine(directory, record.DrillId);
        var junit = await WriteFileAsync(stem + ".junit.xml", JUnitWriter.Write(record), ct).ConfigureAwait(false);
        var markdown = await WriteFileAsync(stem + ".md", MarkdownWriter.Write(record), ct).ConfigureAwait(false);
        var html = await WriteFileAsync(stem + ".html", HtmlReportWriter.Write(record, earlier), ct).ConfigureAwait(false);
        var runbook = await WriteFileAsync(stem + ".runbook.md", RunbookWriter.Write(record), ct).ConfigureAwait(false);
        var prom = new List<string> { await WriteFileAsync(stem + ".prom", metrics, ct).ConfigureAwait(false) };
        if (options.TextfileCollectorPath is { } textfile)
            prom.Add(await WriteFileAsync(textfile, metrics, ct).ConfigureAwait(false));
        return new EvidencePaths(json, junit, markdown, html, prom) { Runbook = runbook };
    }

    /// <summary>
    /// Refuses, before a drill starts, a drill id whose record <paramref name="directory"/> already holds: the drill
    /// could not record its evidence.
    /// </summary>
    /// <exception cref="ConfigurationException">The id is not a safe file name, or its record exists.</exception>
    public static void EnsureNewRecord(string directory, string drillId) =>
        DrillRecordJson.EnsureNew(DrillRecordJson.RecordPath(directory, drillId), drillId);

    /// <summary>When the last passed drill of the record's source ended: the record itself if it passed, else the newest passed earlier one.</summary>
    public static DateTimeOffset? LastSuccess(DrillRecord record, IEnumerable<DrillRecord> earlier) =>
        record.Verdict == DrillVerdict.Passed ? record.EndedAt
            : earlier.Where(r => r.Verdict == DrillVerdict.Passed && (r.Source ?? "") == (record.Source ?? "")).Select(r => (DateTimeOffset?)r.EndedAt).Max();

    private static async Task<string> WriteFileAsync(string path, string text, CancellationToken ct)
    {
        path = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // The textfile collector reads *.prom: the temporary name must not end in .prom or it would read half a file.
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        // The output passed through the redacted record already; this catches a secret a format adds on its own.
        await File.WriteAllTextAsync(temp, Redactor.Redact(text), ct).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
        return path;
    }
}
