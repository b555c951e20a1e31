using System.Globalization;

namespace RestoreOps.Model;

/// <summary>Where WAL replay stops.</summary>
public enum RecoveryTargetKind
{
    /// <summary>Replay everything the archive holds (no recovery target).</summary>
    Latest,
    /// <summary>Stop as soon as the backup is consistent (<c>recovery_target = 'immediate'</c>).</summary>
    Immediate,
    /// <summary>A point in time (<c>recovery_target_time</c>).</summary>
    Time,
    /// <summary>A WAL location (<c>recovery_target_lsn</c>).</summary>
    Lsn,
    /// <summary>A transaction id (<c>recovery_target_xid</c>).</summary>
    Xid,
    /// <summary>A restore point made with <c>pg_create_restore_point</c> (<c>recovery_target_name</c>).</summary>
    Name,
}

/// <summary>A recovery target: the point the restored database should represent.</summary>
/// <example><code>var target = RecoveryTarget.AtTime(DateTimeOffset.Parse("2026-11-21T14:46:30Z"));</code></example>
public sealed record RecoveryTarget
{
    private RecoveryTarget(RecoveryTargetKind kind, string? value, bool inclusive)
    {
        Kind = kind;
        Value = value;
        Inclusive = inclusive;
    }

    /// <summary>The kind of target.</summary>
    public RecoveryTargetKind Kind { get; }

    /// <summary>The target value in PostgreSQL's notation (time as <c>2026-11-21 14:46:30.000000+00:00</c>, LSN as <c>X/X</c>); null for Latest and Immediate.</summary>
    public string? Value { get; }

    /// <summary>Whether replay stops just after (true, PostgreSQL's default) or just before the target.</summary>
    public bool Inclusive { get; }

    /// <summary>The target time, for <see cref="RecoveryTargetKind.Time"/>.</summary>
    public DateTimeOffset? Time => Kind == RecoveryTargetKind.Time
        ? DateTimeOffset.Parse(Value!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)
        : null;

    /// <summary>Replay to the end of the archive.</summary>
    public static RecoveryTarget Latest { get; } = new(RecoveryTargetKind.Latest, null, true);

    /// <summary>Stop at the backup's consistency point.</summary>
    public static RecoveryTarget Immediate { get; } = new(RecoveryTargetKind.Immediate, null, true);

    /// <summary>Stop at a point in time.</summary>
    public static RecoveryTarget AtTime(DateTimeOffset time, bool inclusive = true) =>
        new(RecoveryTargetKind.Time, time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss.ffffff'+00:00'", CultureInfo.InvariantCulture), inclusive);

    /// <summary>Stop at a WAL location such as <c>0/7000060</c>.</summary>
    public static RecoveryTarget AtLsn(string lsn, bool inclusive = true)
    {
        if (!Lsn.TryParse(lsn, out _))
            throw new ArgumentException($"'{lsn}' is not a WAL location: write it as PostgreSQL prints it, e.g. 0/7000060.", nameof(lsn));
        return new(RecoveryTargetKind.Lsn, lsn.ToUpperInvariant(), inclusive);
    }

    /// <summary>Stop at a transaction id.</summary>
    public static RecoveryTarget AtXid(ulong xid, bool inclusive = true) =>
        new(RecoveryTargetKind.Xid, xid.ToString(CultureInfo.InvariantCulture), inclusive);

    /// <summary>Stop at a named restore point.</summary>
    public static RecoveryTarget AtRestorePoint(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw new ArgumentException("A restore point name cannot be empty.", nameof(name));
        return new(RecoveryTargetKind.Name, name, true);
    }

    /// <summary>Rebuilds a target from its parts (as <see cref="Kind"/>, <see cref="Value"/> and <see cref="Inclusive"/> report them), validating the value.</summary>
    /// <exception cref="ArgumentException">The value does not fit the kind.</exception>
    public static RecoveryTarget From(RecoveryTargetKind kind, string? value, bool inclusive = true) => kind switch
    {
        RecoveryTargetKind.Latest => Latest,
        RecoveryTargetKind.Immediate => Immediate,
        RecoveryTargetKind.Time => AtTime(DateTimeOffset.Parse(value ?? throw new ArgumentException("A time target needs a time.", nameof(value)),
            CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal), inclusive),
        RecoveryTargetKind.Lsn => AtLsn(value ?? throw new ArgumentException("An LSN target needs an LSN.", nameof(value)), inclusive),
        RecoveryTargetKind.Xid => AtXid(ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var xid) ? xid
            : throw new ArgumentException($"'{value}' is not a transaction id.", nameof(value)), inclusive),
        RecoveryTargetKind.Name => AtRestorePoint(value ?? ""),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown recovery target kind."),
    };

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        RecoveryTargetKind.Latest => "latest",
        RecoveryTargetKind.Immediate => "immediate",
        _ => $"{Kind.ToString().ToLowerInvariant()} {Value}{(Inclusive ? "" : " (exclusive)")}",
    };
}

/// <summary>A PostgreSQL WAL location (LSN), comparable.</summary>
public readonly record struct Lsn(ulong Value) : IComparable<Lsn>
{
    /// <summary>Parses <c>X/X</c> hexadecimal notation.</summary>
    public static bool TryParse(string? text, out Lsn lsn)
    {
        lsn = default;
        if (string.IsNullOrEmpty(text)) return false;
        var slash = text.IndexOf('/');
        if (slash <= 0 || slash == text.Length - 1) return false;
        if (!uint.TryParse(text.AsSpan(0, slash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hi)) return false;
        if (!uint.TryParse(text.AsSpan(slash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var lo)) return false;
        lsn = new Lsn(((ulong)hi << 32) | lo);
        return true;
    }

    /// <summary>Parses <c>X/X</c>, throwing on bad input.</summary>
    public static Lsn Parse(string text) =>
        TryParse(text, out var lsn) ? lsn : throw new FormatException($"'{text}' is not a WAL location (expected X/X, e.g. 0/7000060).");

    /// <inheritdoc />
    public int CompareTo(Lsn other) => Value.CompareTo(other.Value);

    /// <summary>Orders two locations.</summary>
    public static bool operator <(Lsn a, Lsn b) => a.Value < b.Value;
    /// <summary>Orders two locations.</summary>
    public static bool operator >(Lsn a, Lsn b) => a.Value > b.Value;
    /// <summary>Orders two locations.</summary>
    public static bool operator <=(Lsn a, Lsn b) => a.Value <= b.Value;
    /// <summary>Orders two locations.</summary>
    public static bool operator >=(Lsn a, Lsn b) => a.Value >= b.Value;

    /// <inheritdoc />
    public override string ToString() => $"{Value >> 32:X}/{Value & 0xFFFFFFFF:X}";
}
