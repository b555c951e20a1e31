using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>Outcome of checking a record file's digest and signature.</summary>
public enum SealStatus
{
    /// <summary>The digest matches; the signature matches too, or there is none, or no key was given to check it.</summary>
    Valid,
    /// <summary>The record has no digest (written before schema version 2, or by hand).</summary>
    Unsealed,
    /// <summary>The content changed after it was sealed.</summary>
    DigestMismatch,
    /// <summary>The digest matches but the signature does not: the record was re-hashed by someone without the key, or the key is wrong.</summary>
    SignatureMismatch,
    /// <summary>A key was given but the record carries no signature.</summary>
    SignatureMissing,
    /// <summary>The file is not a JSON record.</summary>
    Malformed,
}

/// <summary>What <see cref="RecordSeal.Verify(string, byte[], InputSpelling)"/> found.</summary>
/// <param name="Status">The verdict.</param>
/// <param name="SignatureChecked">True when a signature was present and checked against the given key.</param>
/// <param name="Message">In words, naming what to do.</param>
public sealed record SealVerification(SealStatus Status, bool SignatureChecked, string Message)
{
    /// <summary>True for <see cref="SealStatus.Valid"/>.</summary>
    public bool IsValid => Status == SealStatus.Valid;
}

/// <summary>
/// Tamper evidence for drill records: a SHA-256 digest of the canonical form (<see cref="CanonicalJson"/>) and,
/// when a key is given, an HMAC-SHA256 signature over the same bytes. The digest alone catches accidents and
/// careless edits; only the signature stops someone who can recompute a digest.
/// </summary>
/// <example>
/// <code>
/// RecordSeal.Seal(record, RecordSeal.KeyFromEnvironment("RESTOREOPS_SIGNING_KEY"));
/// var check = RecordSeal.Verify(File.ReadAllText(path), key);
/// if (!check.IsValid) Console.Error.WriteLine(check.Message);
/// </code>
/// </example>
public static class RecordSeal
{
    /// <summary>The environment variable the signing key is read from unless the user names another.</summary>
    public const string DefaultKeyVariable = "RESTOREOPS_SIGNING_KEY";
    /// <summary>Prefix of <see cref="DrillRecord.Digest"/>.</summary>
    public const string DigestPrefix = "sha256:";
    /// <summary>Prefix of <see cref="DrillRecord.Signature"/>.</summary>
    public const string SignaturePrefix = "hmac-sha256:";

    /// <summary>
    /// The key in environment variable <paramref name="variable"/> as UTF-8 bytes, or null when it is unset or empty.
    /// The key is used, never stored or printed.
    /// </summary>
    public static byte[]? KeyFromEnvironment(string variable = DefaultKeyVariable) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } k ? Encoding.UTF8.GetBytes(k) : null;

    /// <summary>Sets <see cref="DrillRecord.Digest"/> (and <see cref="DrillRecord.Signature"/> when a key is given, else clears it) from the record as it would be written.</summary>
    public static void Seal(DrillRecord record, byte[]? signingKey)
    {
        record.Digest = null;
        record.Signature = null;
        var canonical = CanonicalJson.FromDocument(DrillRecordJson.Serialize(record));
        record.Digest = DigestPrefix + Hex(SHA256.HashData(canonical));
        if (signingKey is { Length: > 0 }) record.Signature = SignaturePrefix + Hex(HMACSHA256.HashData(signingKey, canonical));
    }

    /// <summary>Checks a record document's digest, and its signature when <paramref name="key"/> is given.</summary>
    /// <param name="json">The record as written.</param>
    /// <param name="key">The HMAC key; null checks the digest only.</param>
    /// <param name="spelling">Whose spelling the message names inputs in.</param>
    public static SealVerification Verify(string json, byte[]? key, InputSpelling spelling = InputSpelling.Neutral)
    {
        byte[] canonical;
        string? digest, signature;
        try
        {
            canonical = CanonicalJson.FromDocument(json);
            using var doc = JsonDocument.Parse(json);
            digest = doc.RootElement.TryGetProperty("digest", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
            signature = doc.RootElement.TryGetProperty("signature", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        }
        catch (JsonException e)
        {
            return new(SealStatus.Malformed, false, $"Not a JSON drill record: {e.Message} Pass a <drillId>.json file written by restoreops.");
        }
        if (digest is null)
            return new(SealStatus.Unsealed, false, "The record has no digest, so it cannot be checked. Records written by restoreops since schema version 2 carry one.");
        var expected = DigestPrefix + Hex(SHA256.HashData(canonical));
        if (!FixedTimeEquals(digest, expected))
            return new(SealStatus.DigestMismatch, false, $"The record was changed after it was written: its digest is {digest} but its content hashes to {expected}. Treat this record as untrustworthy; the original is in your evidence store's history.");
        if (key is null)
            return new(SealStatus.Valid, false, signature is null
                ? "Digest matches. The record is not signed."
                : $"Digest matches. The signature was NOT checked: set {DefaultKeyVariable} (or name the variable with {InputKeys.Name(InputKey.VerifyKeyVariable, spelling)}) to check it.");
        if (signature is null)
            return new(SealStatus.SignatureMissing, false, $"Digest matches, but a key was given and the record carries no signature: it was written without {InputKeys.Name(InputKey.SigningKeyVariable, spelling)}, or the signature was removed.");
        var expectedSignature = SignaturePrefix + Hex(HMACSHA256.HashData(key, canonical));
        return FixedTimeEquals(signature, expectedSignature)
            ? new(SealStatus.Valid, true, "Digest and signature match.")
            : new(SealStatus.SignatureMismatch, true, "The digest matches but the signature does not: either the key differs from the one the record was signed with, or the record was altered and re-hashed by someone without the key.");
    }

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
