using System.CommandLine;
using System.Text.RegularExpressions;

namespace RestoreOps.Cli;

/// <summary>The command line a run was given, as a person would type it again (POSIX shell quoting): the runbook's command.</summary>
internal static partial class CommandLine
{
    [GeneratedRegex("^[A-Za-z0-9_@%+=:,./-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex Plain();

    /// <summary><c>restoreops</c> and the parsed tokens, quoted where a shell would split or expand them. The engine redacts it.</summary>
    public static string Of(ParseResult parse) => "restoreops " + string.Join(' ', parse.Tokens.Select(t => Quote(t.Value)));

    /// <summary>One word for a POSIX shell.</summary>
    public static string Quote(string word) => word.Length > 0 && Plain().IsMatch(word) ? word : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
