using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace RestoreOps.Checks;

/// <summary>What RestoreOps needs to know about SQL from a check file, and how a value it returns is recorded.</summary>
internal static class UserSql
{
    private static readonly HashSet<string> Writes = new(StringComparer.Ordinal) { "insert", "update", "delete", "merge" };

    /// <summary>
    /// The first keyword, lower-case, past white space, comments and opening parentheses; null when there is none. Only
    /// for wording a refusal: whether SQL runs is decided by the server (see <see cref="CheckSession.UserQueryAsync"/>).
    /// </summary>
    internal static string? FirstKeyword(string sql)
    {
        var i = 0;
        while (i < sql.Length)
        {
            if (char.IsWhiteSpace(sql[i]) || sql[i] == '(' || sql[i] == ';') { i++; continue; }
            if (string.CompareOrdinal(sql, i, "--", 0, 2) == 0)
            {
                var end = sql.IndexOf('\n', i);
                i = end < 0 ? sql.Length : end + 1;
                continue;
            }
            if (string.CompareOrdinal(sql, i, "/*", 0, 2) == 0)
            {
                // PostgreSQL's block comments nest.
                var depth = 0;
                do
                {
                    if (string.CompareOrdinal(sql, i, "/*", 0, 2) == 0) { depth++; i += 2; }
                    else if (string.CompareOrdinal(sql, i, "*/", 0, 2) == 0) { depth--; i += 2; }
                    else i++;
                }
                while (depth > 0 && i < sql.Length);
                continue;
            }
            var start = i;
            while (i < sql.Length && (char.IsLetter(sql[i]) || sql[i] == '_')) i++;
            return i > start ? sql[start..i].ToLowerInvariant() : sql[start].ToString();
        }
        return null;
    }

    // Commands PREPARE refuses; any other first word the server did not take is a typo, reported as a syntax error.
    private static readonly HashSet<string> Commands = new(StringComparer.Ordinal)
    {
        "abort", "alter", "analyze", "begin", "call", "checkpoint", "close", "cluster", "comment", "commit", "copy", "create", "deallocate",
        "declare", "discard", "do", "drop", "end", "execute", "explain", "fetch", "grant", "import", "listen", "load", "lock", "move", "notify",
        "prepare", "reassign", "refresh", "reindex", "release", "reset", "revoke", "rollback", "savepoint", "security", "set", "show", "start",
        "truncate", "unlisten", "vacuum",
    };

    /// <summary>Whether <paramref name="keyword"/> starts a command a check never runs (transaction control, DO, COPY, SET, DDL…).</summary>
    internal static bool IsRefusedCommand(string keyword, bool write) => Commands.Contains(keyword) || (!write && Writes.Contains(keyword));

    /// <summary>Numbers, booleans and NULL are recorded as they are; any other value only as its hash unless shown on request.</summary>
    internal static bool IsPlain(object? value) => value is null or bool or sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal;

    /// <summary><c>sha256:</c> and the lower-case hex SHA-256 of the UTF-8 text.</summary>
    internal static string Hash(string text) => "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLower(CultureInfo.InvariantCulture);

    /// <summary>Whether <paramref name="text"/> is written as a hash (<c>sha256:</c> and 64 hex digits).</summary>
    internal static bool IsHash(string text) => text.Length == 71 && text.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)
        && text.AsSpan(7).IndexOfAnyExcept("0123456789abcdefABCDEF") < 0;
}
