using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace RestoreOps.Processes;

/// <summary>Exit code and captured output of a finished command.</summary>
internal sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The last lines of standard error (or output), for diagnoses.</summary>
    public string Tail(int lines = 15)
    {
        var text = string.IsNullOrWhiteSpace(StandardError) ? StandardOutput : StandardError;
        var all = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}

/// <summary>
/// Runs external programs, optionally as another OS account (via <c>setpriv</c>, which execs in place so the
/// child's pid is the program's own), and kills them when the work is cancelled.
/// </summary>
internal static class CommandRunner
{
    /// <summary>Builds the start info, switching account when <paramref name="runAs"/> is not the current user.</summary>
    public static ProcessStartInfo CreateStartInfo(string file, IEnumerable<string> arguments, OsAccount? runAs,
        IReadOnlyDictionary<string, string?>? environment, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo
        {
            UseShellExecute = false,
            // A cwd the target account cannot enter (root's home) makes initdb and postgres complain.
            WorkingDirectory = workingDirectory ?? "/",
        };
        if (runAs is { IsCurrentUser: false })
        {
            psi.FileName = "setpriv";
            foreach (var a in new[] { $"--reuid={runAs.Uid}", $"--regid={runAs.Gid}", "--init-groups", "--" })
                psi.ArgumentList.Add(a);
            psi.ArgumentList.Add(file);
            psi.Environment["HOME"] = runAs.Home;
            psi.Environment["USER"] = runAs.Name;
            psi.Environment["LOGNAME"] = runAs.Name;
        }
        else
        {
            psi.FileName = file;
        }
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (k, v) in environment)
                if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        return psi;
    }

    /// <summary>Runs a command to completion, capturing its output. Cancellation kills it.</summary>
    public static async Task<CommandResult> RunAsync(string file, IEnumerable<string> arguments, OsAccount? runAs,
        IReadOnlyDictionary<string, string?>? environment, CancellationToken cancellationToken, string? workingDirectory = null)
    {
        var psi = CreateStartInfo(file, arguments, runAs, environment, workingDirectory);
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = true;
        using var process = Start(psi, file);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            KillQuietly(process);
            throw;
        }
        return new CommandResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    /// <summary>Runs a command and throws with its output's tail when it fails.</summary>
    public static async Task<CommandResult> RunCheckedAsync(string what, string file, IEnumerable<string> arguments, OsAccount? runAs,
        IReadOnlyDictionary<string, string?>? environment, CancellationToken cancellationToken, Func<CommandResult, Exception>? onFailure = null)
    {
        var result = await RunAsync(file, arguments, runAs, environment, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw onFailure?.Invoke(result) ?? new InfrastructureException(
                $"{what} failed (exit {result.ExitCode}): {result.Tail()}",
                "See the output above; it names what the tool could not do.");
        return result;
    }

    /// <summary>Starts a process, turning "not found" into a message that names the missing program.</summary>
    public static Process Start(ProcessStartInfo psi, string displayName)
    {
        try
        {
            return Process.Start(psi) ?? throw new InfrastructureException($"Could not start {displayName}.");
        }
        catch (Win32Exception e)
        {
            throw new InfrastructureException($"Could not run {psi.FileName} ({displayName}): {e.Message}.",
                psi.FileName == "setpriv"
                    ? "Install util-linux (it provides setpriv), which RestoreOps uses to run PostgreSQL as an unprivileged user."
                    : $"Install {displayName} or put it on PATH.", e);
        }
    }

    internal static void KillQuietly(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (Win32Exception) { }
    }

    /// <summary>Quotes one word for /bin/sh.</summary>
    public static string ShellQuote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    internal static string Describe(IEnumerable<string> args)
    {
        var sb = new StringBuilder();
        foreach (var a in args) sb.Append(' ').Append(a.Contains(' ') ? ShellQuote(a) : a);
        return sb.ToString();
    }
}
