using System.Management.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Writes a drill record as evidence: sealed JSON, JUnit XML, Markdown, HTML and Prometheus text.</para>
/// <para type="description">Each file is written whole or not at all. The JSON record carries a SHA-256 digest, and an HMAC signature when a signing key is set (RESTOREOPS_SIGNING_KEY or -SigningKeyVariable).</para>
/// </summary>
/// <example><code>$record | Export-DrillEvidence -Path ./evidence | Send-DrillHeartbeat -Url $env:HEARTBEAT_URL</code></example>
[Cmdlet(VerbsData.Export, "DrillEvidence")]
[OutputType(typeof(DrillEvidence))]
public sealed class ExportDrillEvidenceCommand : RestoreOpsCmdlet
{
    /// <summary>The drill record (from Invoke-RestoreCheck or Invoke-RestoreDrill).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("InputObject")]
    public DrillRecord Record { get; set; } = null!;

    /// <summary>The evidence folder (created when missing; earlier records there feed trends).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string Path { get; set; } = null!;

    /// <summary>Environment variable holding the HMAC signing key (default: RESTOREOPS_SIGNING_KEY when set).</summary>
    [Parameter]
    public string? SigningKeyVariable { get; set; }

    /// <summary>Also write the metrics to this file, for node-exporter's textfile collector.</summary>
    [Parameter]
    public string? TextfileCollectorPath { get; set; }

    /// <summary>Who owns the procedure (default: the check file's owner:, when the checks came from one).</summary>
    [Parameter]
    public string? Owner { get; set; }

    /// <summary>Notes for the evidence, one per step that needed human judgement (repeatable: -Note 'a','b').</summary>
    [Parameter]
    public string[]? Note { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var dir = FullPath(Path);
        var started = DateTimeOffset.UtcNow;
        try
        {
            var key = RecordSeal.KeyFromEnvironment(SigningKeyVariable ?? RecordSeal.DefaultKeyVariable);
            if (SigningKeyVariable is not null && key is null)
                throw new ConfigurationException($"-SigningKeyVariable {SigningKeyVariable}: that environment variable is not set or empty.",
                    $"Set $env:{SigningKeyVariable}, or leave -SigningKeyVariable out to write an unsigned (digest-only) record.");
            var options = new EvidenceOptions
            {
                SigningKey = key,
                TextfileCollectorPath = FullPath(TextfileCollectorPath),
            };
            if (File.Exists(dir))
                throw new ConfigurationException($"-Path '{dir}' is a file; Export-DrillEvidence writes several files into a folder.",
                    "Pass a folder (it is created when missing), e.g. the folder that file is in.");
            Engine.Annotate(Record, Owner, Note);
            // Before writing: the runbook (and the sealed record) must list the export that wrote them.
            Engine.RecordStep(Record, "export", CommandLine(["Path"], [("Path", dir)]), started, true, $"evidence written to {dir}");
            EvidencePaths paths;
            try
            {
                // Evidence is written whole even after Ctrl+C: a half-written record proves nothing.
                paths = Run(_ => EvidenceWriter.WriteAllAsync(Record, dir, options, CancellationToken.None));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The runtime's text ("Could not find file …") names neither the parameter nor what to do about it.
                throw new ConfigurationException($"The evidence could not be written to -Path '{dir}': {e.Message}",
                    File.Exists(System.IO.Path.Combine(dir, Record.DrillId + ".json"))
                        ? "A record of this drill is already there and records are never overwritten: pass another folder."
                        : "Pass a folder this user can create and write to.");
            }
            WriteObject(new DrillEvidence
            {
                DrillId = Record.DrillId,
                Verdict = Record.Verdict,
                Directory = dir,
                RecordPath = paths.Json,
                Files = paths.All.ToList(),
                Record = Record,
            });
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "ExportDrillEvidenceFailed", Record);
        }
    }
}
