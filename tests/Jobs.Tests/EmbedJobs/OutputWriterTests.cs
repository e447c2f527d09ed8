using System.Globalization;
using System.Text.Json;
using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.Tests.Support;
using Parquet;
using Parquet.Schema;

namespace MlPipelines.Jobs.Tests.EmbedJobs;

public class OutputWriterTests(StoriesModelFixture model) : IClassFixture<StoriesModelFixture>
{
    // Texts that stress the writers: CSV/JSON specials, non-ASCII, empty.
    private static readonly string[] Texts = ["Once upon a time", "comma, and \"quotes\"", "", "tab\there\\back", "é ü 日本", "x"];

    private async Task<(string Path, float[][] Expected)> EmbedAsync(TempDir dir, string ext, EmbeddingOptions? options = null)
    {
        string input = dir.File("in.jsonl");
        File.WriteAllLines(input, Texts.Select(t => JsonSerializer.Serialize(new { text = t })));
        Embedder embedder = model.Embedder(options ?? new EmbeddingOptions { BatchSize = 4 });
        string output = dir.File("out." + ext);
        EmbedJobResult result = await EmbedJob.RunAsync(embedder, new EmbedJobOptions { InputPath = input, OutputPath = output });
        Assert.False(result.Cancelled);
        Assert.Equal(Texts.Length, result.Rows);
        Assert.False(File.Exists(output + ".mlpipe-progress"));   // a complete job leaves no sidecar
        return (output, embedder.Embed(Texts));
    }

    [Fact]
    public async Task Csv_has_index_text_and_one_column_per_dimension_with_exact_floats()
    {
        using var dir = new TempDir();
        var (path, expected) = await EmbedAsync(dir, "csv", new EmbeddingOptions { BatchSize = 4, Normalize = false });
        var records = new List<string>();
        using (var reader = new StreamReader(path))
        {
            var csv = new CsvRecordReader(reader, path);   // the input reader reads our own output back
            var fields = new List<string>();
            Assert.True(csv.ReadRecord(fields));
            Assert.Equal(["index", "text", .. Enumerable.Range(0, expected[0].Length).Select(i => "e" + i)], fields);
            for (int row = 0; csv.ReadRecord(fields); row++)
            {
                Assert.Equal(row.ToString(CultureInfo.InvariantCulture), fields[0]);
                Assert.Equal(Texts[row], fields[1]);
                Assert.Equal(expected[row], fields.Skip(2).Select(f => float.Parse(f, CultureInfo.InvariantCulture)).ToArray());
                records.Add(fields[1]);
            }
        }
        Assert.Equal(Texts.Length, records.Count);
    }

    [Fact]
    public async Task Json_lines_have_index_text_and_embedding_with_exact_floats()
    {
        using var dir = new TempDir();
        var (path, expected) = await EmbedAsync(dir, "jsonl");
        string[] lines = File.ReadAllLines(path);
        Assert.Equal(Texts.Length, lines.Length);
        for (int row = 0; row < lines.Length; row++)
        {
            using var doc = JsonDocument.Parse(lines[row]);
            Assert.Equal(["index", "text", "embedding"], doc.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal(row, doc.RootElement.GetProperty("index").GetInt64());
            Assert.Equal(Texts[row], doc.RootElement.GetProperty("text").GetString());
            Assert.Equal(expected[row], doc.RootElement.GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        }
        Assert.Contains("é ü 日本", File.ReadAllText(path));   // not \u-escaped
    }

    [Fact]
    public async Task Parquet_has_index_text_and_a_float_list_with_exact_floats()
    {
        using var dir = new TempDir();
        var (path, expected) = await EmbedAsync(dir, "parquet");
        Assert.False(Directory.Exists(path + ".parts"));
        await using ParquetReader reader = await ParquetReader.CreateAsync(path);
        DataField[] fields = reader.Schema.DataFields;
        Assert.Equal(["index", "text", "element"], fields.Select(f => f.Name));
        Assert.IsType<ListField>(reader.Schema.Fields[2]);
        Assert.Equal(1, reader.RowGroupCount);
        using ParquetRowGroupReader group = reader.OpenRowGroupReader(0);
        int rows = (int)group.RowCount, dim = expected[0].Length;
        Assert.Equal(Texts.Length, rows);
        var indexes = new long[rows];
        await group.ReadAsync<long>(fields[0], indexes.AsMemory());
        var texts = new string?[rows];
        await group.ReadAsync(fields[1], texts.AsMemory());
        var values = new float[rows * dim];
        var repetition = new int[rows * dim];
        await group.ReadRawAsync<float>(fields[2], values.AsMemory(), new int[rows * dim], repetition.AsMemory());
        Assert.Equal(Enumerable.Range(0, rows).Select(i => (long)i), indexes);
        Assert.Equal(Texts, texts);
        for (int row = 0; row < rows; row++)
        {
            Assert.Equal(0, repetition[row * dim]);   // each row starts a new list of exactly `dim` values
            Assert.Equal(expected[row], values.AsSpan(row * dim, dim).ToArray());
        }
    }

    [Fact]
    public async Task Empty_input_gives_a_valid_empty_output()
    {
        using var dir = new TempDir();
        string input = dir.File("empty.txt");
        File.WriteAllText(input, "");
        foreach (string ext in new[] { "csv", "jsonl", "parquet" })
        {
            string output = dir.File("out." + ext);
            var result = await EmbedJob.RunAsync(model.Embedder(), new EmbedJobOptions { InputPath = input, OutputPath = output });
            Assert.Equal(0, result.Rows);
            Assert.True(File.Exists(output));
        }
        Assert.StartsWith("index,text,e0,", File.ReadAllText(dir.File("out.csv")));
        Assert.Equal("", File.ReadAllText(dir.File("out.jsonl")));
        await using ParquetReader reader = await ParquetReader.CreateAsync(dir.File("out.parquet"));
        Assert.Equal(0, reader.RowGroupCount);
    }
}
