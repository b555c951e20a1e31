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

/// <summary>
/// A failure with a message that names the input and the fix. Inputs are referred to by <see cref="InputKey"/>
/// (<see cref="InputKeys.Ref"/> inside the message and fix): <see cref="Exception.Message"/> names them in words, and
/// each front end renders them in its own spelling with <see cref="MessageFor"/> and <see cref="FixFor"/>.
/// </summary>
public class RestoreOpsException : Exception
{
    private readonly string _message;
    private readonly string? _fix;
    private readonly string? _details;

    /// <summary>Creates the exception.</summary>
    /// <param name="kind">What kind of failure this is.</param>
    /// <param name="message">What went wrong; may refer to inputs with <see cref="InputKeys.Ref"/>.</param>
    /// <param name="fix">What the user can do about it; may refer to inputs too.</param>
    /// <param name="inner">The failure underneath.</param>
    /// <param name="details">Further lines (a log excerpt) shown after the message.</param>
    /// <param name="parameter">The input at fault; default: the first one the message or fix refers to.</param>
    public RestoreOpsException(FailureKind kind, string message, string? fix = null, Exception? inner = null, string? details = null, InputKey? parameter = null)
        : base(Compose(message, fix, details, InputSpelling.Neutral), inner)
    {
        Kind = kind;
        _message = message;
        _fix = fix;
        _details = details;
        Parameter = parameter ?? InputKeys.Referenced(message).Concat(InputKeys.Referenced(fix)).Cast<InputKey?>().FirstOrDefault();
    }

    /// <summary>What kind of failure this is.</summary>
    public FailureKind Kind { get; }

    /// <summary>What the user can do about it, naming inputs in words (<see cref="FixFor"/> names them as a front end spells them).</summary>
    public string? Fix => InputKeys.Render(_fix, InputSpelling.Neutral);

    /// <summary>The input at fault, when the failure is about one: a front end names it in its spelling.</summary>
    public InputKey? Parameter { get; }

    /// <summary>The message without the fix, inputs named in <paramref name="spelling"/>.</summary>
    public string MessageFor(InputSpelling spelling) => InputKeys.Render(_message, spelling) + (_details is null ? "" : "\n" + _details);

    /// <summary>The fix, inputs named in <paramref name="spelling"/>.</summary>
    public string? FixFor(InputSpelling spelling) => InputKeys.Render(_fix, spelling);

    /// <summary>Message and fix as <see cref="Exception.Message"/> has them, inputs named in <paramref name="spelling"/>.</summary>
    public string Render(InputSpelling spelling) => Compose(_message, _fix, _details, spelling);

    private static string Compose(string message, string? fix, string? details, InputSpelling spelling) =>
        InputKeys.Render(fix is null ? message : $"{message} Fix: {fix}", spelling) + (details is null ? "" : "\n" + details);
}

/// <summary>Bad input the user can correct.</summary>
public sealed class ConfigurationException(string message, string? fix = null, Exception? inner = null, string? details = null, InputKey? parameter = null)
    : RestoreOpsException(FailureKind.Configuration, message, fix, inner, details, parameter);

/// <summary>The environment failed (credentials, network, binaries, permissions).</summary>
public sealed class InfrastructureException(string message, string? fix = null, Exception? inner = null, string? details = null, InputKey? parameter = null)
    : RestoreOpsException(FailureKind.Infrastructure, message, fix, inner, details, parameter);

/// <summary>The backup did not restore.</summary>
public sealed class RestoreFailedException(string message, string? fix = null, Exception? inner = null, string? details = null, InputKey? parameter = null)
    : RestoreOpsException(FailureKind.RestoreFailed, message, fix, inner, details, parameter);

/// <summary>Failures rendered for a front end: a <see cref="RestoreOpsException"/> in its spelling, anything else as it is.</summary>
public static class FailureText
{
    /// <summary>The message (with its fix) of <paramref name="e"/>, inputs named in <paramref name="spelling"/>.</summary>
    public static string Of(Exception e, InputSpelling spelling) => e is RestoreOpsException r ? r.Render(spelling) : e.Message;
}
