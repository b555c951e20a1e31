namespace RestoreOps.Model;

/// <summary>The evidence files written for one drill record, and the record itself.</summary>
/// <example>
/// <code>
/// $evidence = $record | Export-DrillEvidence -Path ./evidence
/// $evidence.Files     # …/20261121-101500-a1b2c3.json, .junit.xml, .md, .html, .prom
/// </code>
/// </example>
public sealed class DrillEvidence
{
    /// <summary>The drill the files describe.</summary>
    public required string DrillId { get; init; }
    /// <summary>The drill's verdict, as the files state it.</summary>
    public required DrillVerdict Verdict { get; init; }
    /// <summary>The folder the files were written to.</summary>
    public required string Directory { get; init; }
    /// <summary>The sealed JSON record: the durable evidence.</summary>
    public required string RecordPath { get; init; }
    /// <summary>Every file written: JSON, JUnit XML, Markdown, HTML and Prometheus text.</summary>
    public required IReadOnlyList<string> Files { get; init; }
    /// <summary>The record that was written (pipes on to Send-DrillHeartbeat by this property's name).</summary>
    public required DrillRecord Record { get; init; }

    /// <inheritdoc />
    public override string ToString() => RecordPath;
}
