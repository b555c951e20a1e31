namespace RestoreOps.Model;

/// <summary>How checks reach a CNPG recovery cluster's primary (<c>-Connect</c>, <c>--connect</c>).</summary>
/// <example>
/// <code>
/// // a CronJob pod: straight to the -rw Service, no port-forward permission needed
/// var request = new RestoreRequest { Backup = latest, Namespace = "drills", Connect = ConnectRoute.Service };
/// </code>
/// </example>
public enum ConnectRoute
{
    /// <summary>The Service when a service-account token is mounted (RestoreOps runs in a pod), else a port-forward.</summary>
    Auto,
    /// <summary>The recovery cluster's <c>&lt;name&gt;-rw.&lt;namespace&gt;.svc</c> Service, port 5432: needs in-cluster DNS and network.</summary>
    Service,
    /// <summary>A port-forward to the primary pod through the API server (<c>pods/portforward</c>): works from a laptop.</summary>
    PortForward,
}
