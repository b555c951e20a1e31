using System.Diagnostics;
using System.Globalization;
using RestoreOps.Model;

namespace RestoreOps.Checks;

/// <summary>
/// Every foreign key resolves and no foreign-key or check constraint is left NOT VALID. Each foreign key is tested with
/// an anti-join bounded by <see cref="MaxRowsPerKey"/> orphans, so a huge table stops at the first evidence instead of
/// counting all of it. Reports constraint names and orphan counts, never rows.
/// </summary>
/// <example><code>new ForeignKeyCheck("shop", schemas: ["public"])</code></example>
public sealed class ForeignKeyCheck(string database, IReadOnlyList<string> schemas, int maxRowsPerKey = 1000, string? name = null)
    : RestoreCheck(name ?? "foreign keys", "foreign-keys", database)
{
    /// <summary>Schemas to cover; empty means every non-system schema.</summary>
    public IReadOnlyList<string> Schemas { get; } = schemas;
    /// <summary>How many orphans to count at most per foreign key.</summary>
    public int MaxRowsPerKey { get; } = maxRowsPerKey;

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        const string scope = "n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%' and (cardinality(@schemas) = 0 or n.nspname = any(@schemas))";
        var schemas = Schemas.ToArray();
        var notValid = await s.QueryAsync($"""
            select format('%I.%I', n.nspname, c.relname) || '.' || quote_ident(k.conname)
            from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
            where not k.convalidated and k.contype in ('f', 'c') and {scope} order by 1
            """, r => r.GetString(0), cancellationToken, ("schemas", schemas)).ConfigureAwait(false);
        // One row per key: the quoted child and parent relations and column lists in matching order.
        var keys = await s.QueryAsync($"""
            select k.conname, k.conrelid::regclass::text, k.confrelid::regclass::text,
                   array(select quote_ident(a.attname) from unnest(k.conkey) with ordinality u(n, i) join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.i),
                   array(select quote_ident(a.attname) from unnest(k.confkey) with ordinality u(n, i) join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.i),
                   k.confmatchtype = 'f'
            from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
            where k.contype = 'f' and {scope} order by 2, 1
            """, r => (Name: r.GetString(0), Child: r.GetString(1), Parent: r.GetString(2), ChildCols: r.GetFieldValue<string[]>(3), ParentCols: r.GetFieldValue<string[]>(4), Full: r.GetBoolean(5)),
            cancellationToken, ("schemas", schemas)).ConfigureAwait(false);
        var orphans = new List<string>();
        foreach (var k in keys)
        {
            var join = string.Join(" and ", k.ChildCols.Zip(k.ParentCols, (c, p) => $"p.{p} = c.{c}"));
            // MATCH SIMPLE exempts a row with any NULL key column; MATCH FULL only an all-NULL one.
            var exempt = k.Full
                ? "not (" + string.Join(" and ", k.ChildCols.Select(c => $"c.{c} is null")) + ")"
                : string.Join(" and ", k.ChildCols.Select(c => $"c.{c} is not null"));
            var sql = $"select count(*) from (select 1 from {k.Child} c where {exempt} and not exists (select 1 from {k.Parent} p where {join}) limit {MaxRowsPerKey}) o";
            var n = Convert.ToInt64(await s.ScalarAsync(sql, cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
            if (n > 0) orphans.Add($"{k.Child}.{k.Name} → {k.Parent}: {(n >= MaxRowsPerKey ? $"≥{n}" : n.ToString(CultureInfo.InvariantCulture))} orphans");
        }
        var expected = "every foreign key resolves, no NOT VALID constraints";
        if (orphans.Count == 0 && notValid.Count == 0)
            return (CheckStatus.Passed, expected, $"{keys.Count} foreign keys resolve", $"All {keys.Count} foreign keys in {Database} resolve and every constraint is validated.");
        var parts = new List<string>();
        if (orphans.Count > 0) parts.Add($"Rows reference missing parents ({string.Join("; ", orphans)}): the backup or restore lost parent rows, or they were loaded with triggers disabled; find them with the same anti-join and repair the source");
        if (notValid.Count > 0) parts.Add($"Constraints left NOT VALID ({string.Join(", ", notValid)}): existing rows were never verified; run ALTER TABLE … VALIDATE CONSTRAINT in the source");
        return (CheckStatus.Failed, expected, string.Join("; ", orphans.Concat(notValid.Select(v => $"{v} NOT VALID"))), string.Join(". ", parts) + ".");
    }
}

/// <summary>
/// Sequences are ahead of the columns they feed (owned-by and identity columns): after a restore that copied data but
/// not sequence state, the application's next insert fails with a duplicate key.
/// </summary>
/// <example><code>new SequenceCheck("shop", schemas: [])</code></example>
public sealed class SequenceCheck(string database, IReadOnlyList<string> schemas, string? name = null)
    : RestoreCheck(name ?? "sequences", "sequences", database)
{
    /// <summary>Schemas to cover; empty means every non-system schema.</summary>
    public IReadOnlyList<string> Schemas { get; } = schemas;

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        var feeds = await s.QueryAsync("""
            select d.objid::regclass::text, d.refobjid::regclass::text, quote_ident(a.attname), sq.seqincrement
            from pg_depend d
            join pg_class sc on sc.oid = d.objid and sc.relkind = 'S'
            join pg_sequence sq on sq.seqrelid = d.objid
            join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
            join pg_class t on t.oid = d.refobjid join pg_namespace n on n.oid = t.relnamespace
            where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
              and n.nspname not in ('pg_catalog', 'information_schema') and (cardinality(@schemas) = 0 or n.nspname = any(@schemas))
            order by 1
            """, r => (Sequence: r.GetString(0), Table: r.GetString(1), Column: r.GetString(2), Increment: r.GetInt64(3)),
            cancellationToken, ("schemas", Schemas.ToArray())).ConfigureAwait(false);
        var behind = new List<string>();
        foreach (var f in feeds)
        {
            var state = await s.QueryAsync($"select last_value, is_called from {f.Sequence}", r => (Last: r.GetInt64(0), Called: r.GetBoolean(1)), cancellationToken).ConfigureAwait(false);
            var next = state[0].Called ? state[0].Last + f.Increment : state[0].Last;
            var extreme = await s.ScalarAsync($"select {(f.Increment > 0 ? "max" : "min")}({f.Column})::bigint from {f.Table}", cancellationToken).ConfigureAwait(false);
            if (extreme is long m && (f.Increment > 0 ? next <= m : next >= m))
                behind.Add($"{f.Sequence} would hand out {next} but {f.Table}.{f.Column} already reaches {m}");
        }
        var expected = "every sequence ahead of its column";
        return behind.Count == 0
            ? (CheckStatus.Passed, expected, $"{feeds.Count} sequences ahead", $"All {feeds.Count} column sequences in {Database} are ahead of their columns.")
            : (CheckStatus.Failed, expected, string.Join("; ", behind),
                $"{string.Join("; ", behind)}: the next insert will fail with a duplicate key. The restore copied rows without sequence state (e.g. a data-only dump); fix with SELECT setval('<sequence>', (SELECT max(<column>) FROM <table>)) per sequence.");
    }
}

/// <summary>
/// Physical integrity with amcheck: <c>bt_index_check</c> on B-tree indexes and, where available (PostgreSQL 14+),
/// <c>verify_heapam</c> on tables, largest first, until <see cref="Budget"/> runs out or <see cref="MaxRelations"/> are done.
/// </summary>
/// <example><code>new AmcheckCheck("shop", maxRelations: 50, budget: TimeSpan.FromMinutes(2), install: true)</code></example>
public sealed class AmcheckCheck(string database, int? maxRelations, TimeSpan budget, bool install, bool heap = true, string? name = null)
    : RestoreCheck(name ?? "amcheck", "integrity", database)
{
    /// <summary>Most relations to verify (null: all).</summary>
    public int? MaxRelations { get; } = maxRelations;
    /// <summary>Time after which no further relation is started.</summary>
    public TimeSpan Budget { get; } = budget;
    /// <summary>Create the amcheck extension when it is missing (writes to the restored, throwaway database).</summary>
    public bool Install { get; } = install;
    /// <summary>Also verify heap tables with <c>verify_heapam</c>.</summary>
    public bool Heap { get; } = heap;

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (Install)
        {
            // The one statement that needs the administrative connection: amcheck is not a trusted extension, so creating it
            // takes a superuser. The statement is fixed; nothing from the check file reaches this session.
            await using (var admin = new Npgsql.NpgsqlConnection(context.ConnectionFor(Database).ConnectionString))
            {
                await admin.OpenAsync(cancellationToken).ConfigureAwait(false);
                await using var create = new Npgsql.NpgsqlCommand("create extension if not exists amcheck", admin);
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await context.Access.GrantAmcheckAsync(context, Database, cancellationToken).ConfigureAwait(false);
        }
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        var schema = await s.ScalarAsync("select extnamespace::regnamespace::text from pg_extension where extname = 'amcheck'", cancellationToken).ConfigureAwait(false) as string;
        if (schema is null)
            return (CheckStatus.Failed, "amcheck installed", "missing",
                $"The amcheck extension is not installed in {Database}. Set 'install: true' to create it in the restored copy, or CREATE EXTENSION amcheck in the source.");
        var hasHeap = Heap && await s.ScalarAsync("select exists(select 1 from pg_proc where proname = 'verify_heapam')", cancellationToken).ConfigureAwait(false) is true;
        var targets = await s.QueryAsync($"""
            select c.oid::regclass::text, case when c.relkind = 'i' then 'index' else 'heap' end
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            left join pg_am am on am.oid = c.relam
            where n.nspname not in ('information_schema') and n.nspname not like 'pg\_toast%' and c.relpersistence <> 't'
              and ((c.relkind = 'i' and am.amname = 'btree' and exists(select 1 from pg_index x where x.indexrelid = c.oid and x.indisvalid and x.indisready))
                   {(hasHeap ? "or c.relkind in ('r', 'm')" : "")})
            order by pg_relation_size(c.oid) desc, 1
            {(MaxRelations is { } m ? $"limit {m}" : "")}
            """, r => (Name: r.GetString(0), Kind: r.GetString(1)), cancellationToken).ConfigureAwait(false);
        var q = QuoteIdentifier(schema);
        var corrupt = new List<string>();
        var checkedCount = 0;
        foreach (var t in targets)
        {
            if (clock.Elapsed >= Budget) break;
            if (t.Kind == "index")
            {
                try
                {
                    await s.ExecuteAsync($"savepoint one; select {q}.bt_index_check(@r::regclass); release savepoint one", cancellationToken, ("r", t.Name)).ConfigureAwait(false);
                }
                catch (Npgsql.PostgresException e) when (e.SqlState.StartsWith("XX", StringComparison.Ordinal))
                {
                    corrupt.Add($"index {t.Name}: {e.SqlState}");
                    await s.ExecuteAsync("rollback to savepoint one", cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                var n = Convert.ToInt64(await s.ScalarAsync($"select count(*) from (select 1 from {q}.verify_heapam(@r::regclass) limit 100) x", cancellationToken, ("r", t.Name)).ConfigureAwait(false), CultureInfo.InvariantCulture);
                if (n > 0) corrupt.Add($"table {t.Name}: {n} corrupt tuples or pages");
            }
            checkedCount++;
        }
        var coverage = $"{checkedCount} of {targets.Count} relations verified{(checkedCount < targets.Count ? $" (budget {CheckRunner.Describe(Budget)} reached)" : "")}";
        return corrupt.Count == 0
            ? (CheckStatus.Passed, "no corruption", coverage, $"amcheck found no corruption in {Database}: {coverage}{(hasHeap || !Heap ? "" : "; verify_heapam is unavailable before PostgreSQL 14, tables were not verified")}.")
            : (CheckStatus.Failed, "no corruption", string.Join("; ", corrupt),
                $"amcheck found corruption in {Database}: {string.Join("; ", corrupt)}. The backup (or the storage it came from) is damaged: check the source with amcheck and take a new backup; REINDEX repairs a corrupt index in the source.");
    }
}
