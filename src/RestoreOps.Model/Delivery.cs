namespace RestoreOps.Model;

/// <summary>What happened to a heartbeat or a push. A failure here is reported, never fatal to the record.</summary>
/// <param name="Sent">True when the receiver answered 2xx.</param>
/// <param name="Attempts">Requests made.</param>
/// <param name="StatusCode">The last HTTP status, if any answer came.</param>
/// <param name="Message">In words, naming the fix when it failed.</param>
public sealed record DeliveryOutcome(bool Sent, int Attempts, int? StatusCode, string Message);
