using System.Collections;

namespace RestoreOps.Model;

/// <summary>
/// The phases of a restore or drill, safe to read while the restore adds to them on another thread: every read
/// (enumeration, <see cref="Count"/>, the indexer) sees one complete snapshot, so PowerShell's formatter or a JSON
/// serialiser walking <c>$cluster.Phases</c> mid-restore never meets "Collection was modified".
/// </summary>
/// <remarks>
/// Writers replace the whole array under a lock (copy on write); a phase list holds a handful of items and changes a few
/// times per restore, so copying is cheaper than making every reader lock. A phase that ends is published as a new
/// <see cref="PhaseTiming"/> through <see cref="Replace"/>, never by changing the one readers already hold.
/// </remarks>
/// <example><code>foreach (var p in cluster.Phases) Console.WriteLine($"{p.Phase} {p.Duration}");</code></example>
public sealed class PhaseTimingList : IList<PhaseTiming>, IReadOnlyList<PhaseTiming>, IList
{
    private readonly object _gate = new();
    private volatile PhaseTiming[] _items = [];

    /// <summary>Number of phases at this moment.</summary>
    public int Count => _items.Length;

    /// <summary>The phase at <paramref name="index"/>; setting it replaces that phase.</summary>
    public PhaseTiming this[int index]
    {
        get => _items[index];
        set => Write(items =>
        {
            ArgumentNullException.ThrowIfNull(value);
            var copy = (PhaseTiming[])items.Clone();
            copy[index] = value;
            return copy;
        });
    }

    /// <summary>Appends a phase.</summary>
    public void Add(PhaseTiming item)
    {
        ArgumentNullException.ThrowIfNull(item);
        Write(items => [.. items, item]);
    }

    /// <summary>Appends phases in order, in one step: a reader sees all of them or none.</summary>
    public void AddRange(IEnumerable<PhaseTiming> phases)
    {
        // Copied first: the source may be this list, or another that changes meanwhile.
        var added = phases.ToArray();
        if (Array.IndexOf(added, null) >= 0) throw new ArgumentException("A phase list cannot hold null.", nameof(phases));
        Write(items => [.. items, .. added]);
    }

    /// <summary>
    /// Publishes <paramref name="updated"/> in place of <paramref name="current"/> (the same instance, as added) in one
    /// step, and returns it: how a phase that ended becomes visible, with its end, outcome and detail together.
    /// </summary>
    /// <exception cref="InvalidOperationException"><paramref name="current"/> is not in the list.</exception>
    public PhaseTiming Replace(PhaseTiming current, PhaseTiming updated)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(updated);
        Write(items =>
        {
            var at = Array.IndexOf(items, current);
            if (at < 0) throw new InvalidOperationException($"The {current.Phase} phase to replace is not in this list.");
            var copy = (PhaseTiming[])items.Clone();
            copy[at] = updated;
            return copy;
        });
        return updated;
    }

    /// <summary>Removes every phase.</summary>
    public void Clear() => Write(_ => []);

    /// <summary>True when <paramref name="item"/> (this instance) is in the list.</summary>
    public bool Contains(PhaseTiming item) => Array.IndexOf(_items, item) >= 0;

    /// <summary>Copies the current phases into <paramref name="array"/>.</summary>
    public void CopyTo(PhaseTiming[] array, int arrayIndex) => _items.CopyTo(array, arrayIndex);

    /// <summary>Where <paramref name="item"/> is, or -1.</summary>
    public int IndexOf(PhaseTiming item) => Array.IndexOf(_items, item);

    /// <summary>Inserts a phase at <paramref name="index"/>.</summary>
    public void Insert(int index, PhaseTiming item)
    {
        ArgumentNullException.ThrowIfNull(item);
        Write(items =>
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)index, (uint)items.Length, nameof(index));
            return [.. items[..index], item, .. items[index..]];
        });
    }

    /// <summary>Removes <paramref name="item"/> (this instance); false when it was not there.</summary>
    public bool Remove(PhaseTiming item)
    {
        var removed = false;
        Write(items =>
        {
            var at = Array.IndexOf(items, item);
            removed = at >= 0;
            return removed ? [.. items[..at], .. items[(at + 1)..]] : items;
        });
        return removed;
    }

    /// <summary>Removes the phase at <paramref name="index"/>.</summary>
    public void RemoveAt(int index) => Write(items =>
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)items.Length, nameof(index));
        return [.. items[..index], .. items[(index + 1)..]];
    });

    /// <summary>Enumerates the phases as they were when enumeration began.</summary>
    public IEnumerator<PhaseTiming> GetEnumerator() => ((IEnumerable<PhaseTiming>)_items).GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", _items.Select(p => p.Phase));

    private void Write(Func<PhaseTiming[], PhaseTiming[]> change)
    {
        lock (_gate) _items = change(_items);
    }

    bool ICollection<PhaseTiming>.IsReadOnly => false;

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    // The non-generic IList is what PowerShell indexes ($cluster.Phases[0]) and ConvertTo-Json treats as an array.
    bool IList.IsFixedSize => false;
    bool IList.IsReadOnly => false;
    bool ICollection.IsSynchronized => true;
    object ICollection.SyncRoot => _gate;

    object? IList.this[int index]
    {
        get => this[index];
        set => this[index] = Cast(value);
    }

    int IList.Add(object? value)
    {
        var item = Cast(value);
        var at = -1;
        Write(items => { at = items.Length; return [.. items, item]; });
        return at;
    }

    bool IList.Contains(object? value) => value is PhaseTiming p && Contains(p);

    int IList.IndexOf(object? value) => value is PhaseTiming p ? IndexOf(p) : -1;

    void IList.Insert(int index, object? value) => Insert(index, Cast(value));

    void IList.Remove(object? value)
    {
        if (value is PhaseTiming p) Remove(p);
    }

    void ICollection.CopyTo(Array array, int index) => ((ICollection)_items).CopyTo(array, index);

    private static PhaseTiming Cast(object? value) =>
        value as PhaseTiming ?? throw new ArgumentException($"A phase list holds {nameof(PhaseTiming)} objects, not {value?.GetType().Name ?? "null"}.", nameof(value));
}
