using System.Collections;
using System.Globalization;
using System.Management.Automation;
using RestoreOps.Model;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>
/// A cmdlet call as a person would type it again, from the parameters it was bound with: the runbook's command.
/// Objects that came down the pipeline are left out (the previous step makes them), a credential becomes
/// <c>(Get-Credential)</c>, and the engine redacts the text before it is recorded.
/// </summary>
internal static class CommandText
{
    private static readonly HashSet<string> Common = new(StringComparer.OrdinalIgnoreCase)
    {
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable", "WarningVariable",
        "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable", "WhatIf", "Confirm",
    };

    /// <summary>The call of <paramref name="invocation"/>'s cmdlet with its bound parameters, minus <paramref name="omit"/>, plus <paramref name="extra"/>.</summary>
    public static string Of(InvocationInfo invocation, IEnumerable<string>? omit = null, IEnumerable<(string Name, object? Value)>? extra = null)
    {
        var skip = new HashSet<string>(omit ?? [], StringComparer.OrdinalIgnoreCase);
        var parts = new List<string> { invocation.MyCommand.Name };
        // Extras replace what is omitted (a resolved path for the one typed, a pinned backup id for -Latest).
        var pairs = (extra ?? []).Concat(invocation.BoundParameters.Where(kv => !skip.Contains(kv.Key)).Select(kv => (kv.Key, Value: (object?)kv.Value)));
        foreach (var (name, value) in pairs)
        {
            if (Common.Contains(name) || value is null) continue;
            var unwrapped = value is PSObject ps ? ps.BaseObject : value;
            switch (unwrapped)
            {
                case SwitchParameter sw:
                    parts.Add(sw.IsPresent ? $"-{name}" : $"-{name}:$false");
                    break;
                case bool b:
                    parts.Add(b ? $"-{name}" : $"-{name}:$false");
                    break;
                case Backup or RestoreCluster or DrillRecord:
                    break; // came down the pipeline (or from a variable): the step before made it
                default:
                    parts.Add($"-{name} {Value(unwrapped)}");
                    break;
            }
        }
        return string.Join(' ', parts);
    }

    /// <summary>A value as PowerShell source.</summary>
    public static string Value(object? value) => value switch
    {
        null => "$null",
        PSObject ps => Value(ps.BaseObject),
        PSCredential => "(Get-Credential)",
        string s => Quote(s),
        DateTimeOffset t => Quote(t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)),
        DateTime t => Quote(t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)),
        TimeSpan t => Quote(t.ToString("c", CultureInfo.InvariantCulture)),
        Enum e => e.ToString(),
        bool b => b ? "$true" : "$false",
        IFormattable f when value is int or long or ulong or uint or short or double or decimal => f.ToString(null, CultureInfo.InvariantCulture),
        IDictionary d => "@{ " + string.Join("; ", d.Keys.Cast<object>().Select(k => $"{Key(k.ToString()!)} = {Value(d[k])}")) + " }",
        IEnumerable e => "@(" + string.Join(", ", e.Cast<object?>().Select(Value)) + ")",
        _ => Quote(value.ToString() ?? ""),
    };

    private static string Key(string k) => System.Text.RegularExpressions.Regex.IsMatch(k, "^[A-Za-z_][A-Za-z0-9_]*$") ? k : Quote(k);
    private static string Quote(string s) => "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";
}
