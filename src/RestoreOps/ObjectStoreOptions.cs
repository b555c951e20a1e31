namespace RestoreOps;

/// <summary>
/// How to reach an S3-compatible object store: endpoint, region and credentials.
/// Explicit values win; <see cref="Resolve"/> fills the gaps from the standard AWS environment variables.
/// </summary>
/// <remarks>
/// With no access key at all (neither given nor in the environment) the AWS SDK's default credential
/// chain is used (profiles, web identity, container and instance roles), which is what IRSA and
/// similar setups on Kubernetes rely on. <see cref="ToString"/> never prints the secret or the session token.
/// It lives in the root namespace, beside the errors, because it is a parameter of the engine's door: front ends
/// build it from their options and hand it in, and the layers below (catalogues, WAL archive, S3 client) only read it.
/// </remarks>
public sealed record ObjectStoreOptions
{
    /// <summary>S3-compatible endpoint URL (e.g. <c>http://minio:9000</c>); null for AWS S3 itself.</summary>
    public string? EndpointUrl { get; init; }

    /// <summary>Region (e.g. <c>eu-west-1</c>); also the signing region for S3-compatible stores.</summary>
    public string? Region { get; init; }

    /// <summary>Access key id. Not a secret, but only printed when the user asks for the options.</summary>
    public string? AccessKeyId { get; init; }

    /// <summary>Secret access key. Never printed.</summary>
    public string? SecretAccessKey { get; init; }

    /// <summary>Session token for temporary credentials. Never printed.</summary>
    public string? SessionToken { get; init; }

    /// <summary>
    /// Path-style addressing (<c>endpoint/bucket/key</c> instead of <c>bucket.endpoint/key</c>).
    /// null means: on whenever <see cref="EndpointUrl"/> is set, because S3-compatible stores rarely have
    /// per-bucket DNS names.
    /// </summary>
    public bool? ForcePathStyle { get; init; }

    /// <summary>The default of <see cref="ReadInactivityTimeout"/>.</summary>
    public static readonly TimeSpan DefaultReadInactivityTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The longest RestoreOps waits for the next bytes of an object, from asking for it to its last byte
    /// (default 60 s). It bounds silence, not the whole transfer: a slow but steady download never hits it,
    /// a store that stops sending mid-body does, and the read is then retried from the byte it reached.
    /// null means the default.
    /// </summary>
    public TimeSpan? ReadInactivityTimeout { get; init; }

    /// <summary>
    /// Requests for one object that may fail in a row, without a byte of progress between them, before the read
    /// gives up (default 4). Resets, read timeouts and HTTP 5xx count; a request that delivers bytes resets the count.
    /// </summary>
    public int ReadAttempts { get; init; } = 4;

    /// <summary>First pause before a retried request; it doubles per failure. Tests shorten it.</summary>
    internal TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The inactivity timeout in effect.</summary>
    public TimeSpan EffectiveReadInactivityTimeout => ReadInactivityTimeout ?? DefaultReadInactivityTimeout;

    /// <summary>Whether path-style addressing will be used.</summary>
    public bool UsePathStyle => ForcePathStyle ?? EndpointUrl is not null;

    /// <summary>True when no static keys are set, so the SDK's default credential chain decides.</summary>
    public bool UsesDefaultCredentialChain => AccessKeyId is null;

    /// <summary>
    /// Returns a copy with every unset value taken from the environment:
    /// <c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c>, <c>AWS_SESSION_TOKEN</c>,
    /// <c>AWS_REGION</c> / <c>AWS_DEFAULT_REGION</c>, <c>AWS_ENDPOINT_URL_S3</c> / <c>AWS_ENDPOINT_URL</c>.
    /// </summary>
    /// <param name="environment">Reads one variable; defaults to the process environment (tests pass their own).</param>
    /// <exception cref="ConfigurationException">The endpoint is not an absolute http(s) URL, or a key id has no secret.</exception>
    public ObjectStoreOptions Resolve(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? Env(string name) => environment(name) is { Length: > 0 } v ? v.Trim() : null;

        var keyFromEnvironment = Blank(AccessKeyId) is null && Env("AWS_ACCESS_KEY_ID") is not null;
        var resolved = this with
        {
            EndpointUrl = Blank(EndpointUrl) ?? Env("AWS_ENDPOINT_URL_S3") ?? Env("AWS_ENDPOINT_URL"),
            Region = Blank(Region) ?? Env("AWS_REGION") ?? Env("AWS_DEFAULT_REGION"),
            AccessKeyId = Blank(AccessKeyId) ?? Env("AWS_ACCESS_KEY_ID"),
            // The secret may come from the environment even with an explicit key id: that keeps it off
            // command lines and out of shell history.
            SecretAccessKey = Blank(SecretAccessKey) ?? Env("AWS_SECRET_ACCESS_KEY"),
            // A session token only belongs to the temporary key it was issued with, so an environment
            // token must not be paired with a key id the user gave explicitly.
            SessionToken = Blank(SessionToken) ?? (keyFromEnvironment ? Env("AWS_SESSION_TOKEN") : null),
        };

        if (resolved.EndpointUrl is { } endpoint)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw new ConfigurationException(
                    $"The object store endpoint '{endpoint}' is not an absolute http:// or https:// URL.",
                    $"Pass the endpoint with its scheme ({InputKey.EndpointUrl.Ref()}), e.g. http://minio.example:9000 (or set AWS_ENDPOINT_URL_S3).");
            resolved = resolved with { EndpointUrl = endpoint.TrimEnd('/') };
        }

        if (resolved.ReadInactivityTimeout is { } timeout && timeout <= TimeSpan.Zero)
            throw new ConfigurationException(
                $"The object store read timeout must be greater than zero (was {timeout.TotalSeconds:0.###} s).",
                $"Pass {InputKey.ReadTimeout.Ref()} as a positive duration, e.g. 60s (or leave it out for the default of 60 s).", parameter: InputKey.ReadTimeout);
        if (resolved.ReadAttempts < 1)
            throw new ConfigurationException(
                $"The object store read attempts must be at least 1 (was {resolved.ReadAttempts}).",
                "Leave ReadAttempts at its default of 4, or set 1 or more.");

        if (resolved.AccessKeyId is not null && resolved.SecretAccessKey is null)
            throw new ConfigurationException(
                $"An access key id ({resolved.AccessKeyId}) was given but no secret access key.",
                $"Pass {InputKey.SecretAccessKey.Ref()} or set AWS_SECRET_ACCESS_KEY, or give neither key to use the AWS default credential chain.");
        if (resolved.AccessKeyId is null && resolved.SecretAccessKey is not null)
            throw new ConfigurationException(
                "A secret access key was given but no access key id.",
                $"Pass {InputKey.AccessKeyId.Ref()} or set AWS_ACCESS_KEY_ID together with the secret.");

        return resolved;
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>Describes the options without the secret and the session token.</summary>
    public override string ToString()
    {
        var credentials = AccessKeyId is null
            ? "default credential chain"
            : $"access key {AccessKeyId}, secret {(SecretAccessKey is null ? "not set" : "set")}{(SessionToken is null ? "" : ", session token set")}";
        return $"endpoint {EndpointUrl ?? "AWS S3"}, region {Region ?? "(default)"}, {credentials}, path-style {(UsePathStyle ? "on" : "off")}";
    }
}
