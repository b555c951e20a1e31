using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace RestoreOps.Evidence;

/// <summary>
/// Removes secrets from text before it reaches any writer, log or failure message: <c>password=…</c> and
/// similar key/value pairs (connection strings, environment dumps, JSON), credentials in URLs
/// (<c>postgresql://user:pass@host</c>), <c>Authorization</c>/<c>Bearer</c> tokens, AWS secret access keys,
/// PEM private keys, and every value registered at run time with <see cref="RegisterSecret"/>.
/// </summary>
/// <example>
/// <code>
/// Redactor.RegisterSecret(generatedPassword);
/// var safe = Redactor.Redact($"connect failed: Host=127.0.0.1;Password={generatedPassword}");
/// // "connect failed: Host=127.0.0.1;Password=***"
/// </code>
/// </example>
public static class Redactor
{
    /// <summary>What a secret is replaced with.</summary>
    public const string Mask = "***";

    /// <summary>Shorter values are not registered: replacing every "ab" would destroy the record and protect nothing.</summary>
    public const int MinimumSecretLength = 4;

    private static readonly ConcurrentDictionary<string, byte> ProcessSecrets = new(StringComparer.Ordinal);

    // The secrets of the engine whose work is running: each RestoreEngine has its own set, so two engines in one process
    // (two PowerShell runspaces, two tests) neither see nor accumulate each other's secrets. Work outside any engine
    // registers process-wide.
    private static readonly AsyncLocal<ConcurrentDictionary<string, byte>?> EngineSecrets = new();

    /// <summary>
    /// Makes <paramref name="set"/> the set that registrations and redactions of the current asynchronous flow use. Called
    /// at the top of each async engine entry point, so the setting flows into everything it awaits and starts, and ends
    /// with it.
    /// </summary>
    internal static void UseEngineSet(ConcurrentDictionary<string, byte> set) => EngineSecrets.Value = set;

    /// <summary>A new, empty per-engine set.</summary>
    internal static ConcurrentDictionary<string, byte> NewEngineSet() => new(StringComparer.Ordinal);

    private static ConcurrentDictionary<string, byte> Secrets => EngineSecrets.Value ?? ProcessSecrets;

    // Key names whose value is a secret. The prefix allows PGPASSWORD, AWS_SECRET_ACCESS_KEY, db.password, x-api-key.
    private const string SecretKey = @"[A-Za-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-]?key|secret[_\-]?access[_\-]?key|private[_\-]?key|credentials?)";

    private static readonly Regex KeyValue = new(
        "(?<key>\\b" + SecretKey + ")(?<q>[\"']?)(?<sep>\\s*[=:]\\s*)(?<value>\"(?:[^\"\\\\]|\\\\.)*\"|'[^']*'|[^\\s;,&\"'}\\]]+)",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

    private static readonly Regex UrlCredentials = new(
        @"(?<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?<user>[^:/\s@]*):(?<pass>[^@/\s]+)@",
        RegexOptions.CultureInvariant | RegexOptions.Compiled);

    private static readonly Regex AuthorizationHeader = new(
        @"(?<head>\b(?:authorization|proxy-authorization)\s*[:=]\s*)(?:(?<scheme>bearer|basic|token|digest|aws4-hmac-sha256)\s+)?[^\s,;""']+",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

    private static readonly Regex BearerToken = new(
        @"(?<head>\bbearer\s+)[A-Za-z0-9\-._~+/]+=*",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.Compiled);

    // AWS secret access keys are 40 characters of base64 alphabet with mixed case and digits; requiring all three
    // keeps SHA-1 hashes and WAL names (hex only) intact.
    private static readonly Regex AwsSecretKey = new(
        @"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))(?=[A-Za-z0-9/+]*[A-Z])(?=[A-Za-z0-9/+]*[a-z])(?=[A-Za-z0-9/+]*[0-9])[A-Za-z0-9/+]{40}",
        RegexOptions.CultureInvariant | RegexOptions.Compiled);

    private static readonly Regex PemPrivateKey = new(
        @"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        RegexOptions.CultureInvariant | RegexOptions.Compiled);

    /// <summary>
    /// Registers a value that must never appear in output (a generated instance password, an object-store secret).
    /// Values shorter than <see cref="MinimumSecretLength"/> are ignored. Registration lasts as long as the engine whose work
    /// registered it (outside an engine: the process).
    /// </summary>
    public static void RegisterSecret(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < MinimumSecretLength) return;
        Secrets.TryAdd(secret, 0);
        // Secrets travel URL-encoded inside connection URIs; the encoded form must go too.
        var escaped = Uri.EscapeDataString(secret);
        if (escaped != secret) Secrets.TryAdd(escaped, 0);
    }

    /// <summary>Registers an object store's secret key and session token (see <see cref="RegisterSecret"/>).</summary>
    public static void RegisterSecrets(ObjectStoreOptions? store)
    {
        RegisterSecret(store?.SecretAccessKey);
        RegisterSecret(store?.SessionToken);
    }

    /// <summary>The text with every known secret replaced by <see cref="Mask"/>; null stays null.</summary>
    public static string? Redact(string? text) => Redact(text, EngineSecrets.Value);

    /// <summary>The text with the secrets of <paramref name="engineSet"/> (and the process-wide ones) masked.</summary>
    internal static string? Redact(string? text, ConcurrentDictionary<string, byte>? engineSet)
    {
        if (string.IsNullOrEmpty(text)) return text;
        var result = text;
        // Longest first, so a secret that contains another is removed whole.
        var known = engineSet is { } engine ? engine.Keys.Concat(ProcessSecrets.Keys) : ProcessSecrets.Keys;
        foreach (var secret in known.OrderByDescending(s => s.Length))
            if (result.Contains(secret, StringComparison.Ordinal)) result = result.Replace(secret, Mask, StringComparison.Ordinal);
        result = PemPrivateKey.Replace(result, Mask);
        result = UrlCredentials.Replace(result, m => $"{m.Groups["scheme"].Value}{m.Groups["user"].Value}:{Mask}@");
        result = AuthorizationHeader.Replace(result, m => m.Groups["head"].Value + (m.Groups["scheme"].Success ? m.Groups["scheme"].Value + " " : "") + Mask);
        result = BearerToken.Replace(result, m => m.Groups["head"].Value + Mask);
        result = KeyValue.Replace(result, m =>
        {
            var value = m.Groups["value"].Value;
            if (value == Mask || value.Trim('"', '\'') == Mask) return m.Value;
            var quote = value.Length > 0 && value[0] is '"' or '\'' ? value[0].ToString() : "";
            return m.Groups["key"].Value + m.Groups["q"].Value + m.Groups["sep"].Value + quote + Mask + quote;
        });
        result = AwsSecretKey.Replace(result, Mask);
        return result;
    }
}
