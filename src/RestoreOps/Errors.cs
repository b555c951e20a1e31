namespace RestoreOps;

/// <summary>What kind of failure stopped a stage; decides the drill verdict and the CLI exit code.</summary>
public enum FailureKind
{
    /// <summary>Bad input: a parameter, path or file the user can fix. CLI exit 2.</summary>
    Configuration,
    /// <summary>Something around the backup failed: credentials, network, binaries, permissions. CLI exit 3.</summary>
    Infrastructure,
    /// <summary>The backup itself did not restore (corrupt archive, missing WAL, target unreachable): what a drill exists to find. CLI exit 1.</summary>
    RestoreFailed,
}

/// <summary>A failure with a message that names the input and the fix.</summary>
public class RestoreOpsException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RestoreOpsException(FailureKind kind, string message, string? fix = null, Exception? inner = null, string? details = null)
        : base((fix is null ? message : $"{message} Fix: {fix}") + (details is null ? "" : "\n" + details), inner)
    {
        Kind = kind;
        Fix = fix;
    }

    /// <summary>What kind of failure this is.</summary>
    public FailureKind Kind { get; }

    /// <summary>What the user can do about it.</summary>
    public string? Fix { get; }
}

/// <summary>Bad input the user can correct.</summary>
public sealed class ConfigurationException(string message, string? fix = null, Exception? inner = null, string? details = null)
    : RestoreOpsException(FailureKind.Configuration, message, fix, inner, details);

/// <summary>The environment failed (credentials, network, binaries, permissions).</summary>
public sealed class InfrastructureException(string message, string? fix = null, Exception? inner = null, string? details = null)
    : RestoreOpsException(FailureKind.Infrastructure, message, fix, inner, details);

/// <summary>The backup did not restore.</summary>
public sealed class RestoreFailedException(string message, string? fix = null, Exception? inner = null, string? details = null)
    : RestoreOpsException(FailureKind.RestoreFailed, message, fix, inner, details);
