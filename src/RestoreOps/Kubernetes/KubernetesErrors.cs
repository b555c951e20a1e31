using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RestoreOps.Kubernetes;

/// <summary>
/// A Kubernetes API call failed. Subclasses say how; <see cref="RestoreOpsException.Kind"/> says whether the
/// user's input (422) or the environment (403, timeouts, …) is at fault.
/// </summary>
/// <remarks>
/// The project's <see cref="InfrastructureException"/> and <see cref="ConfigurationException"/> are sealed,
/// so these derive from <see cref="RestoreOpsException"/> with the matching <see cref="FailureKind"/>:
/// catch <see cref="RestoreOpsException"/> and look at <see cref="RestoreOpsException.Kind"/>.
/// </remarks>
/// <example>
/// <code>
/// try { await api.CreateAsync(ResourceKind.Cluster, "drills", cluster, ct); }
/// catch (KubernetesApiException e) when (e.StatusCode == 409) { /* already there */ }
/// </code>
/// </example>
internal class KubernetesApiException : RestoreOpsException
{
    /// <summary>Creates the exception.</summary>
    public KubernetesApiException(FailureKind kind, string message, string? fix, int? statusCode, string? reason,
        KubernetesRequest? request, Exception? inner = null, string? details = null)
        : base(kind, message, fix, inner, details)
    {
        StatusCode = statusCode;
        Reason = reason;
        Request = request;
    }

    /// <summary>HTTP status, or null when no response arrived (timeout, refused, TLS).</summary>
    public int? StatusCode { get; }
    /// <summary>The Status object's <c>reason</c> (Forbidden, NotFound, AlreadyExists, Conflict, Invalid, Expired…).</summary>
    public string? Reason { get; }
    /// <summary>What was asked.</summary>
    public KubernetesRequest? Request { get; }
}

/// <summary>What a failed request was doing, in RBAC terms.</summary>
/// <example><code>catch (KubernetesApiException e) { Console.WriteLine($"{e.Request?.Verb} {e.Request?.RuleResource}"); }</code></example>
/// <param name="Verb">RBAC verb: get, list, watch, create, delete.</param>
/// <param name="Kind">Resource type.</param>
/// <param name="Namespace">Namespace, or null at cluster scope / across namespaces.</param>
/// <param name="Name">Object name when the request was about one object.</param>
/// <param name="Subresource">e.g. <c>portforward</c>.</param>
internal sealed record KubernetesRequest(string Verb, ResourceKind Kind, string? Namespace, string? Name, string? Subresource = null)
{
    /// <summary>Resource as written in a Role rule: <c>clusters</c> or <c>pods/portforward</c>.</summary>
    public string RuleResource => Subresource is null ? Kind.Plural : $"{Kind.Plural}/{Subresource}";

    internal string Describe()
    {
        var what = Name is null ? Kind.QualifiedName : $"{Kind.QualifiedName} \"{Name}\"";
        return Namespace is null ? what : $"{what} in namespace \"{Namespace}\"";
    }
}

/// <summary>Kubernetes refused the credentials (401) or the permission (403). <see cref="FailureKind.Infrastructure"/>.</summary>
/// <example><code>catch (KubernetesForbiddenException e) { Console.Error.WriteLine(e.Message); /* names the Role rule to add */ }</code></example>
internal sealed class KubernetesForbiddenException(string message, string fix, int statusCode, KubernetesRequest? request, string? user)
    : KubernetesApiException(FailureKind.Infrastructure, message, fix, statusCode, statusCode == 401 ? "Unauthorized" : "Forbidden", request)
{
    /// <summary>The identity the server saw, when it said so (e.g. <c>system:serviceaccount:ci:restoreops</c>).</summary>
    public string? User { get; } = user;
}

/// <summary>The object (or its resource type) does not exist (404). <see cref="FailureKind.Configuration"/>: a name the user gave.</summary>
/// <example><code>var pod = await api.TryGetAsync(ResourceKind.Pod, "drills", "pg-1", ct); // null instead of this exception</code></example>
internal sealed class KubernetesNotFoundException(string message, string fix, KubernetesRequest? request, bool resourceTypeMissing)
    : KubernetesApiException(FailureKind.Configuration, message, fix, 404, "NotFound", request)
{
    /// <summary>True when the server does not know the resource type at all (CRD not installed), not just the object.</summary>
    public bool ResourceTypeMissing { get; } = resourceTypeMissing;
}

/// <summary>409: the object already exists, or was changed since it was read. <see cref="FailureKind.Infrastructure"/>.</summary>
/// <example><code>catch (KubernetesConflictException e) when (e.AlreadyExists) { }</code></example>
internal sealed class KubernetesConflictException(string message, string fix, string? reason, KubernetesRequest? request)
    : KubernetesApiException(FailureKind.Infrastructure, message, fix, 409, reason, request)
{
    /// <summary>True for <c>AlreadyExists</c>, false for an optimistic-concurrency <c>Conflict</c>.</summary>
    public bool AlreadyExists => Reason == "AlreadyExists";
}

/// <summary>422: the server (or an admission webhook / CRD schema) rejected the object. <see cref="FailureKind.Configuration"/>.</summary>
/// <example><code>catch (KubernetesInvalidException e) { foreach (var c in e.Causes) Console.WriteLine($"{c.Field}: {c.Message}"); }</code></example>
internal sealed class KubernetesInvalidException(string message, string fix, IReadOnlyList<KubernetesCause> causes, KubernetesRequest? request)
    : KubernetesApiException(FailureKind.Configuration, message, fix, 422, "Invalid", request, details: string.Join("\n", causes.Select(c => "  " + c)))
{
    /// <summary>The server's field-level causes.</summary>
    public IReadOnlyList<KubernetesCause> Causes { get; } = causes;
}

/// <summary>One entry of a Status object's <c>details.causes</c>.</summary>
/// <example><code>new KubernetesCause("spec.instances", "Required value").ToString() // "spec.instances: Required value"</code></example>
/// <param name="Field">JSON path of the offending field, e.g. <c>spec.instances</c>.</param>
/// <param name="Message">Why it was rejected.</param>
/// <param name="Reason">Machine reason, e.g. <c>FieldValueInvalid</c>.</param>
internal sealed record KubernetesCause(string? Field, string Message, string? Reason = null)
{
    /// <inheritdoc />
    public override string ToString() => Field is null ? Message : $"{Field}: {Message}";
}

/// <summary>
/// The API server could not be reached or did not answer in time: timeouts, refused connections, TLS
/// failures, 429 and 5xx. <see cref="FailureKind.Infrastructure"/>.
/// </summary>
/// <example><code>catch (KubernetesUnavailableException e) when (e.IsTimeout) { /* retry later */ }</code></example>
internal sealed class KubernetesUnavailableException(string message, string fix, int? statusCode, KubernetesRequest? request, bool isTimeout, Exception? inner = null)
    : KubernetesApiException(FailureKind.Infrastructure, message, fix, statusCode, isTimeout ? "Timeout" : null, request, inner)
{
    /// <summary>True when the request timed out (client side or the server's 504 / Timeout reason).</summary>
    public bool IsTimeout { get; } = isTimeout;
}

/// <summary>410 Gone: a watch or continue token is older than the server's history. The client re-lists on its own.</summary>
internal sealed class KubernetesGoneException(string message, KubernetesRequest? request)
    : KubernetesApiException(FailureKind.Infrastructure, message, "start again from a fresh list", 410, "Expired", request);

/// <summary>Turns an error response into the matching exception with a message that names the input and the fix.</summary>
internal static partial class KubernetesErrorMapper
{
    [GeneratedRegex("User \"(?<user>[^\"]*)\" cannot (?<verb>[a-z]+) resource \"(?<res>[^\"]+)\"")]
    private static partial Regex ForbiddenMessage();

    // status: the parsed Status body, or null when the body was not a Status;
    // rawBody: shown truncated for non-Status bodies (proxies, load balancers answering instead of the API server).
    public static KubernetesApiException FromResponse(int code, JsonObject? status, string? rawBody, KubernetesRequest request, KubernetesContext context)
    {
        var serverMessage = status?["message"]?.GetValue<string>() ?? Truncate(rawBody);
        var reason = status?["reason"]?.GetValue<string>();
        var where = $"the Kubernetes API at {context.Server}";

        switch (code)
        {
            case 401:
                return new KubernetesForbiddenException(
                    $"{Capitalise(where)} rejected the credentials of kubeconfig user \"{context.UserName}\" (context \"{context.ContextName}\") with 401 Unauthorized while trying to {request.Verb} {request.Describe()}.",
                    "the token or client certificate is expired, revoked or for another cluster: refresh it (log in again, or check the exec plugin / service account token) and retry.",
                    401, request, null);
            case 403:
                {
                    var match = serverMessage is null ? null : ForbiddenMessage().Match(serverMessage);
                    var user = match is { Success: true } ? match.Groups["user"].Value : null;
                    var verb = match is { Success: true } ? match.Groups["verb"].Value : request.Verb;
                    var resource = match is { Success: true } ? match.Groups["res"].Value : request.RuleResource;
                    var on = request.Kind.Group.Length == 0 ? resource : $"{resource}.{request.Kind.Group}";
                    var scope = request.Namespace is null || !request.Kind.Namespaced
                        ? "at cluster scope"
                        : $"in namespace \"{request.Namespace}\"";
                    var who = user is null ? $"kubeconfig user \"{context.UserName}\"" : $"user \"{user}\"";
                    var ruleKind = request.Namespace is null || !request.Kind.Namespaced ? "ClusterRole" : "Role";
                    var fix = $"grant it with a {ruleKind} rule: apiGroups: [\"{request.Kind.Group}\"], resources: [\"{resource}\"], verbs: [\"{verb}\"]" +
                              (ruleKind == "Role" ? $" (Role in namespace \"{request.Namespace}\", bound to that identity)." : " (bound with a ClusterRoleBinding).");
                    return new KubernetesForbiddenException($"Kubernetes denied \"{verb}\" on {on} {scope} for {who}.", fix, 403, request, user);
                }
            case 404:
                {
                    // A 404 without details.name on a named request means the URL's resource type is unknown:
                    // typically the CRD (CloudNativePG) is not installed, which needs a different fix.
                    var detailsName = status?["details"]?["name"]?.GetValue<string>();
                    var typeMissing = request.Name is null ? true : detailsName is null && serverMessage?.Contains("could not find the requested resource") == true;
                    if (typeMissing)
                        return new KubernetesNotFoundException(
                            $"{Capitalise(where)} does not serve {request.Kind.QualifiedName} ({request.Kind.ApiVersion}).",
                            request.Kind.Group.Length == 0
                                ? "check the server URL and the API version."
                                : $"install the operator that provides {request.Kind.QualifiedName} (its CRD is missing) or check that context \"{context.ContextName}\" points at the right cluster.",
                            request, true);
                    return new KubernetesNotFoundException(
                        $"{request.Kind.QualifiedName} \"{request.Name}\" was not found{(request.Namespace is null ? "" : $" in namespace \"{request.Namespace}\"")} (context \"{context.ContextName}\").",
                        $"check the name and the namespace ({InputKey.Namespace.Ref()}), and that the context points at the right cluster.",
                        request, false);
                }
            case 409:
                return reason == "AlreadyExists"
                    ? new KubernetesConflictException(
                        $"{request.Kind.QualifiedName} \"{request.Name}\" already exists{(request.Namespace is null ? "" : $" in namespace \"{request.Namespace}\"")}.",
                        "delete the existing object (if RestoreOps created it) or pick another name.", reason, request)
                    : new KubernetesConflictException(
                        $"{Capitalise(request.Describe())} was changed by someone else while RestoreOps was updating it (409 {reason ?? "Conflict"}): {serverMessage}",
                        "read the object again and retry.", reason ?? "Conflict", request);
            case 410:
                return new KubernetesGoneException($"{request.Kind.QualifiedName}: {serverMessage ?? "resource version too old"} (410 Gone).", request);
            case 422:
                {
                    var causes = new List<KubernetesCause>();
                    if (status?["details"]?["causes"] is JsonArray array)
                        foreach (var c in array.OfType<JsonObject>())
                            causes.Add(new KubernetesCause(c["field"]?.GetValue<string>(), c["message"]?.GetValue<string>() ?? "(no message)", c["reason"]?.GetValue<string>()));
                    if (causes.Count == 0)
                        causes.Add(new KubernetesCause(null, serverMessage ?? "invalid"));
                    return new KubernetesInvalidException(
                        $"Kubernetes rejected {request.Describe()} as invalid: {string.Join("; ", causes)}.",
                        "correct the listed fields of the object (or the settings that produced them) and retry.", causes, request);
                }
            case 408 or 504:
                return new KubernetesUnavailableException(
                    $"{Capitalise(where)} timed out ({code}) while trying to {request.Verb} {request.Describe()}: {serverMessage}.",
                    "the API server or etcd is overloaded or unreachable from it; retry later and check the control plane's health.", code, request, true);
            case 429:
                return new KubernetesUnavailableException(
                    $"{Capitalise(where)} throttled the request to {request.Verb} {request.Describe()} (429 Too Many Requests).",
                    "retry later, or reduce concurrent drills against this cluster.", code, request, false);
            default:
                return new KubernetesUnavailableException(
                    $"{Capitalise(where)} answered {code} {reason ?? ((HttpStatusCode)code).ToString()} while trying to {request.Verb} {request.Describe()}: {serverMessage}.",
                    code >= 500
                        ? "the API server failed; check its health (kubectl get --raw /readyz) and retry."
                        : "check the server URL in the kubeconfig; a proxy or load balancer may be answering instead of the API server.",
                    code, request, reason == "Timeout");
        }
    }

    /// <summary>No response: map timeouts, refusals and TLS failures to a message about the server URL.</summary>
    public static KubernetesUnavailableException FromTransport(Exception e, KubernetesRequest request, KubernetesContext context, TimeSpan timeout)
    {
        var action = $"{request.Verb} {request.Describe()}";
        if (e is TaskCanceledException or OperationCanceledException or TimeoutException)
            return new KubernetesUnavailableException(
                $"The Kubernetes API at {context.Server} did not answer within {timeout.TotalSeconds:0.#} s while trying to {action}.",
                $"check that the server is reachable from here (VPN, firewall, API server allow-list) and that context \"{context.ContextName}\" is the intended cluster.",
                null, request, true, e);
        if (FindInner<System.Security.Authentication.AuthenticationException>(e) is { } tls)
            return new KubernetesUnavailableException(
                $"The TLS handshake with the Kubernetes API at {context.Server} failed while trying to {action}: {tls.Message}",
                $"check certificate-authority / certificate-authority-data of cluster \"{context.ClusterName}\" in the kubeconfig (and the client certificate of user \"{context.UserName}\"); insecure-skip-tls-verify only for throwaway test clusters.",
                null, request, false, e);
        var socket = FindInner<System.Net.Sockets.SocketException>(e);
        var what = socket?.SocketErrorCode switch
        {
            System.Net.Sockets.SocketError.ConnectionRefused => "refused the connection",
            System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.TryAgain => "could not be resolved",
            System.Net.Sockets.SocketError.TimedOut => "did not accept a connection in time",
            _ => $"could not be reached ({e.Message})",
        };
        return new KubernetesUnavailableException(
            $"The Kubernetes API at {context.Server} {what} while trying to {action}.",
            $"check the server URL of cluster \"{context.ClusterName}\" in the kubeconfig, that the cluster is running, and network access (VPN, firewall).",
            null, request, socket?.SocketErrorCode == System.Net.Sockets.SocketError.TimedOut, e);
    }

    private static T? FindInner<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException)
            if (e is T t)
                return t;
        return null;
    }

    private static string Capitalise(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static string? Truncate(string? s) => s is null ? null : s.Length <= 300 ? s.Trim() : s[..300].Trim() + "…";
}
