namespace RestoreOps.ObjectStore;

/// <summary>One object in a listing.</summary>
/// <param name="Key">Full key inside the bucket.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="LastModified">Last-modified instant (UTC).</param>
internal sealed record ObjectEntry(string Key, long Size, DateTimeOffset LastModified);

/// <summary>How far the read of one object has got.</summary>
/// <param name="BytesRead">Bytes of the object delivered so far.</param>
/// <param name="TotalBytes">Its size, once the store has said it.</param>
/// <param name="Retrying">Set while a failed request is being retried: which attempt comes next and why.</param>
public readonly record struct ObjectReadProgress(long BytesRead, long? TotalBytes, string? Retrying = null);

/// <summary>
/// Read-only access to one bucket of an object store. RestoreOps never writes to or deletes from a
/// store it reads backups from, so the interface has no way to.
/// </summary>
internal interface IObjectStore : IDisposable
{
    /// <summary>The bucket's URL form, e.g. <c>s3://backups</c>, for messages.</summary>
    string Describe(string key);

    /// <summary>Lists every object under <paramref name="prefix"/> (no delimiter), in key order, starting after <paramref name="startAfter"/> when given.</summary>
    IAsyncEnumerable<ObjectEntry> ListAsync(string prefix, string? startAfter, CancellationToken cancellationToken);

    /// <summary>Opens an object for streaming. Throws <see cref="RestoreFailedException"/> when it does not exist.</summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => OpenReadAsync(key, null, cancellationToken);

    /// <summary>
    /// Opens an object for streaming, reporting the bytes delivered to <paramref name="progress"/> as they arrive
    /// (on every read: throttle in the sink). Throws <see cref="RestoreFailedException"/> when it does not exist.
    /// </summary>
    Task<Stream> OpenReadAsync(string key, IProgress<ObjectReadProgress>? progress, CancellationToken cancellationToken);
}
