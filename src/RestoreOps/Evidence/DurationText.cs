namespace RestoreOps.Evidence;

/// <summary>Durations as the evidence writers print them. Parsing lives in <see cref="InputDuration"/>, the one grammar of every input.</summary>
public static class DurationText
{
    /// <summary>A short human form: <c>2d3h</c>, <c>4h12m</c>, <c>7m30s</c>, <c>12.3s</c>; <see cref="InputDuration.Parse(string, InputKey, TimeSpan?, bool)"/> reads it back.</summary>
    public static string Format(TimeSpan value) => InputDuration.Format(value);
}
