using System.Diagnostics;
using RestoreOps.Model;

namespace RestoreOps.ObjectStore;

/// <summary>
/// Turns the byte counts of one download into <see cref="DrillProgress"/> a person can read (bytes, size, percent,
/// rate, time left, retries), at most four times a second, plus the first report, every change of retry state and
/// the last one: a stream reports on every read, far more often than any front end should redraw.
/// </summary>
internal sealed class TransferMeter : IProgress<ObjectReadProgress>
{
    /// <summary>The shortest gap between two reports of the same download.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    private readonly IProgress<DrillProgress>? _target;
    private readonly DrillPhase _phase;
    private readonly string _activity;
    private readonly string _source;
    private readonly Func<TimeSpan> _clock;
    private readonly object _gate = new();
    private TimeSpan? _lastReport;
    private string? _lastRetrying;
    private bool _finished;

    /// <summary>Reports <paramref name="source"/>'s download as <paramref name="activity"/> in <paramref name="phase"/>.</summary>
    /// <param name="target">Where reports go; null makes the meter a no-op.</param>
    /// <param name="phase">The drill phase the download belongs to.</param>
    /// <param name="activity">The activity text (the same as the report that announced the download, so front ends update that line).</param>
    /// <param name="source">The object or file, as the report names it.</param>
    /// <param name="clock">Elapsed time since the download started; tests pass their own.</param>
    public TransferMeter(IProgress<DrillProgress>? target, DrillPhase phase, string activity, string source, Func<TimeSpan>? clock = null)
    {
        _target = target;
        _phase = phase;
        _activity = activity;
        _source = source;
        if (clock is null)
        {
            var watch = Stopwatch.StartNew();
            clock = () => watch.Elapsed;
        }
        _clock = clock;
    }

    /// <inheritdoc />
    public void Report(ObjectReadProgress value)
    {
        if (_target is null) return;
        DrillProgress report;
        lock (_gate)
        {
            if (_finished) return;
            var now = _clock();
            var last = value.TotalBytes is { } total && value.BytesRead >= total;
            var retryChanged = value.Retrying != _lastRetrying;
            if (!last && !retryChanged && _lastReport is { } previous && now - previous < Interval) return;
            _lastReport = now;
            _lastRetrying = value.Retrying;
            _finished = last;
            var rate = now > TimeSpan.Zero ? value.BytesRead / now.TotalSeconds : 0;
            var transfer = new TransferProgress(_source, value.BytesRead, value.TotalBytes, rate) { Retrying = value.Retrying };
            report = new DrillProgress(_phase, _activity, transfer.PercentComplete, transfer.ToString()) { Transfer = transfer };
        }
        _target.Report(report);
    }
}
