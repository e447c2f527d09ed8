using Parquet;
using Parquet.Schema;

namespace MlPipelines.Jobs.EmbedJobs;

/// <summary>
/// The Parquet layout of an embedding output: <c>index</c> int64, <c>text</c> string and
/// <c>embedding</c> a standard LIST of non-null float (every list holds exactly the model's dimension).
/// </summary>
internal static class ParquetEmbeddingFile
{
    public static ParquetSchema Schema { get; } = new(
        new DataField<long>("index"),
        new DataField<string>("text", nullable: false),
        new ListField("embedding", new DataField<float>("element", nullable: false)));

    /// <summary>Rows of one row group, columns side by side; <see cref="Vectors"/> holds rows × dimension floats.</summary>
    public sealed class Rows(int dimension)
    {
        public int Dimension { get; } = dimension;
        public List<long> Indexes { get; } = [];
        public List<string> Texts { get; } = [];
        public List<float> Vectors { get; } = [];
        public int Count => Indexes.Count;

        public void RemoveFirst(int count)
        {
            Indexes.RemoveRange(0, count);
            Texts.RemoveRange(0, count);
            Vectors.RemoveRange(0, count * Dimension);
        }

        public void Clear()
        {
            Indexes.Clear();
            Texts.Clear();
            Vectors.Clear();
        }
    }

    public static async Task WriteRowGroupAsync(ParquetWriter writer, Rows rows, int start, int count)
    {
        DataField[] fields = Schema.DataFields;
        int dim = rows.Dimension;
        using ParquetRowGroupWriter group = writer.CreateRowGroup();
        await group.WriteAsync<long>(fields[0], rows.Indexes.ToArray().AsMemory(start, count));
        await group.WriteAsync(fields[1], rows.Texts.GetRange(start, count));
        // A list of required floats: definition level 2 (list and element present) for every value and
        // repetition level 0 where a row's list starts, 1 where it continues.
        var definition = new int[count * dim];
        var repetition = new int[count * dim];
        Array.Fill(definition, 2);
        for (int i = 0; i < repetition.Length; i++)
            repetition[i] = i % dim == 0 ? 0 : 1;
        float[] values = rows.Vectors.GetRange(start * dim, count * dim).ToArray();
        await group.WriteAllPartsAsync<float>(fields[2], values, definition, repetition, CancellationToken.None);
    }

    /// <summary>Rows in one row group of a finished file: about 16 MB of floats, at least 1024 rows.</summary>
    public static int RowGroupRows(int dimension) => Math.Max(1024, (1 << 22) / dimension);

    /// <summary>
    /// Writes the rows of <paramref name="parts"/>, in order, as one file with row groups of
    /// <see cref="RowGroupRows"/>: the bytes depend only on the rows, not on how they were split into parts.
    /// Streams through a buffer of at most one row group plus one part.
    /// </summary>
    public static async Task MergeAsync(IEnumerable<string> parts, Stream output, int dimension)
    {
        int groupRows = RowGroupRows(dimension);
        var rows = new Rows(dimension);
        await using ParquetWriter writer = await ParquetWriter.CreateAsync(Schema, output);
        foreach (string part in parts)
        {
            await ReadAsync(part, rows);
            int written = 0;
            for (; rows.Count - written >= groupRows; written += groupRows)
                await WriteRowGroupAsync(writer, rows, written, groupRows);
            rows.RemoveFirst(written);
        }
        if (rows.Count > 0)
            await WriteRowGroupAsync(writer, rows, 0, rows.Count);
    }

    /// <summary>Appends every row of <paramref name="path"/> to <paramref name="rows"/>.</summary>
    public static async Task ReadAsync(string path, Rows rows)
    {
        await using ParquetReader reader = await ParquetReader.CreateAsync(path);
        DataField[] fields = reader.Schema.DataFields;
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using ParquetRowGroupReader group = reader.OpenRowGroupReader(g);
            int count = checked((int)group.RowCount);
            var indexes = new long[count];
            await group.ReadAsync<long>(fields[0], indexes.AsMemory());
            var texts = new string?[count];
            await group.ReadAsync(fields[1], texts.AsMemory());
            int values = checked(count * rows.Dimension);
            var vectors = new float[values];
            await group.ReadRawAsync<float>(fields[2], vectors.AsMemory(), new int[values], new int[values]);
            rows.Indexes.AddRange(indexes);
            rows.Texts.AddRange(texts.Select(t => t ?? ""));
            rows.Vectors.AddRange(vectors);
        }
    }
}
