using System.Management.Automation;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>
/// Engine failures as ErrorRecords: a category PowerShell users filter on, the target, and the fix as the recommended
/// action, the inputs they refer to named as this module's parameters (<c>-EndpointUrl</c>).
/// </summary>
internal static class ErrorRecords
{
    public static ErrorRecord From(Exception e, string errorId, object? target)
    {
        var category = e switch
        {
            RestoreOpsException { Kind: FailureKind.Configuration } => ErrorCategory.InvalidArgument,
            RestoreOpsException { Kind: FailureKind.Infrastructure } => ErrorCategory.ConnectionError,
            RestoreOpsException { Kind: FailureKind.RestoreFailed } => ErrorCategory.InvalidResult,
            ArgumentException => ErrorCategory.InvalidArgument,
            UnauthorizedAccessException => ErrorCategory.PermissionDenied,
            FileNotFoundException or DirectoryNotFoundException => ErrorCategory.ObjectNotFound,
            IOException => ErrorCategory.ReadError,
            TimeoutException => ErrorCategory.OperationTimeout,
            OperationCanceledException => ErrorCategory.OperationStopped,
            _ => ErrorCategory.NotSpecified,
        };
        var record = new ErrorRecord(e, errorId, category, target);
        if (e is RestoreOpsException r)
        {
            // The message without the appended "Fix: …": the fix goes where PowerShell shows recommended actions.
            record.ErrorDetails = new ErrorDetails(r.MessageFor(InputSpelling.PowerShell));
            if (r.FixFor(InputSpelling.PowerShell) is { } fix) record.ErrorDetails.RecommendedAction = fix;
        }
        return record;
    }

    public static ErrorRecord NotFound(string message, string fix, string errorId, object? target) =>
        new(new ItemNotFoundException(message), errorId, ErrorCategory.ObjectNotFound, target)
        {
            ErrorDetails = new ErrorDetails(message) { RecommendedAction = fix },
        };
}
