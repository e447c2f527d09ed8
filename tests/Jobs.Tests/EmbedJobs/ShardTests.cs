using MlPipelines.Jobs.EmbedJobs;
using MlPipelines.Jobs.EmbedJobs.Shards;
using MlPipelines.ManagedEngine.Embeddings;
using MlPipelines.Tests.Support;

namespace MlPipelines.Jobs.Tests.EmbedJobs;

/// <summary>
/// A job split into shards, written in any order and merged, gives the bytes of the one-process job; the merge refuses
/// parts that are not the ones the manifest lists.
/// </summary>
public class ShardTests(StoriesModelFixture model) : IClassFixture<StoriesModelFixture>
{
    [Theory]
    [InlineData(EmbedOutputFormat.Csv)]
    [InlineData(EmbedOutputFormat.JsonLines)]
    [InlineData(EmbedOutputFormat.Parquet)]
    public async Task Parts_written_in_any_order_merge_into_the_one_process_output(EmbedOutputFormat format)
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(1300));
        string ext = EmbedShardWriter.Extension(format);
        Embedder embedder = model.Embedder(new EmbeddingOptions { BatchSize = 4 });
        string single = dir.File("single" + ext);
        // Parquet parts of 1000 rows: the merged row groups must not follow the parts' (or the one-process commits').
        await EmbedJob.RunAsync(embedder, new EmbedJobOptions { InputPath = input, OutputPath = single, ParquetPartRows = 1000 });

        // Rounded up to 252 rows: four shards of 252, then the last 292 rows in shards of 64 (a quarter, whole batches).
        IReadOnlyList<EmbedShard> plan = EmbedShard.Plan(1300, shardRows: 250, batchSize: 4);
        Assert.Equal(9, plan.Count);
        string parts = dir.File("parts");
        var written = new List<EmbedShardPart>();
        foreach (EmbedShard shard in plan.Reverse())
            written.Add(await EmbedShardWriter.WriteAsync(embedder, new EmbedShardInput(input, EmbedInputFormat.Text), shard, format, parts));
        EmbedShardManifest.Create(format, embedder.Dimension, written).Save(parts);

        string merged = dir.File("merged" + ext);
        Assert.Equal(1300, await EmbedShardMerger.MergeAsync(parts, merged));
        Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(merged));
        Assert.Empty(Directory.GetFiles(parts, "*.tmp"));
    }

    [Fact]
    public void A_plan_starts_every_shard_on_a_batch_boundary_and_covers_every_row_once()
    {
        IReadOnlyList<EmbedShard> plan = EmbedShard.Plan(1000, shardRows: 100, batchSize: 16);
        Assert.All(plan, s => Assert.Equal(0, s.FirstRow % 16));
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), plan.SelectMany(s => Enumerable.Range(0, (int)s.Rows).Select(r => s.FirstRow + r)));
        Assert.Equal(112, plan[0].Rows);
        // The last two shards' worth of rows (from 784) in quarter shards of 32 rows (28 rounded up to whole batches).
        Assert.Equal([.. Enumerable.Repeat(112L, 7), 32, 32, 32, 32, 32, 32, 24], plan.Select(s => s.Rows));
        Assert.Equal(Enumerable.Range(0, plan.Count), plan.Select(s => s.Number));
        // Plans of fewer than four shards keep the size asked for; from four on the last two are cut in quarters.
        Assert.Equal([112L, 112, 112], EmbedShard.Plan(336, 100, 16).Select(s => s.Rows));
        Assert.Equal([112L, 112, 32, 32, 32, 32, 32, 32, 32], EmbedShard.Plan(448, 100, 16).Select(s => s.Rows));
        Assert.Single(EmbedShard.Plan(10, 112, 16));
        Assert.Empty(EmbedShard.Plan(0, 100, 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => EmbedShard.Plan(10_000_000_000, shardRows: 1, batchSize: 1));
    }

    [Fact]
    public async Task A_changed_or_missing_part_or_a_broken_manifest_is_refused_by_the_merge()
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(40));
        Embedder embedder = model.Embedder(new EmbeddingOptions { BatchSize = 4 });
        string parts = dir.File("parts");
        Assert.Throws<FileNotFoundException>(() => EmbedShardManifest.Load(parts));

        var written = new List<EmbedShardPart>();
        foreach (EmbedShard shard in EmbedShard.Plan(40, 16, 4))
            written.Add(await EmbedShardWriter.WriteAsync(embedder, new EmbedShardInput(input, EmbedInputFormat.Text), shard, EmbedOutputFormat.JsonLines, parts));
        EmbedShardManifest.Create(EmbedOutputFormat.JsonLines, embedder.Dimension, written).Save(parts);

        string part1 = Path.Combine(parts, written[1].File);
        byte[] original = File.ReadAllBytes(part1);
        File.WriteAllBytes(part1, original[..^10]);   // torn
        var torn = await Assert.ThrowsAsync<InvalidDataException>(() => EmbedShardMerger.MergeAsync(parts, dir.File("out.jsonl")));
        Assert.Contains(written[1].File, torn.Message);
        File.Delete(part1);
        await Assert.ThrowsAsync<FileNotFoundException>(() => EmbedShardMerger.MergeAsync(parts, dir.File("out.jsonl")));
        Assert.False(File.Exists(dir.File("out.jsonl")));

        File.WriteAllBytes(part1, original);
        string manifest = Path.Combine(parts, EmbedShardManifest.FileName);
        string text = File.ReadAllText(manifest);
        File.WriteAllText(manifest, text.Replace("\"firstRow\": 16", "\"firstRow\": 17"));   // a gap in the rows
        var gap = Assert.Throws<InvalidDataException>(() => EmbedShardManifest.Load(parts));
        Assert.Contains("part 1", gap.Message);
        File.WriteAllText(manifest, "{\"version\": 1, \"parts\": [");
        Assert.Throws<InvalidDataException>(() => EmbedShardManifest.Load(parts));
        File.WriteAllText(manifest, text);
        Assert.Equal(40, await EmbedShardMerger.MergeAsync(parts, dir.File("out.jsonl")));
    }

    [Fact]
    public async Task A_shard_off_a_batch_boundary_or_past_the_input_is_refused()
    {
        using var dir = new TempDir();
        string input = EmbedTestData.WriteTextFile(dir, "in.txt", EmbedTestData.Lines(10));
        Embedder embedder = model.Embedder(new EmbeddingOptions { BatchSize = 4 });
        var source = new EmbedShardInput(input, EmbedInputFormat.Text);
        await Assert.ThrowsAsync<ArgumentException>(() => EmbedShardWriter.WriteAsync(embedder, source, new EmbedShard(0, 2, 4), EmbedOutputFormat.Csv, dir.File("p")));
        var changed = await Assert.ThrowsAsync<EmbedJobConflictException>(() =>
            EmbedShardWriter.WriteAsync(embedder, source, new EmbedShard(1, 8, 8), EmbedOutputFormat.Csv, dir.File("p")));
        Assert.Contains("changed", changed.Message);
        Assert.Empty(Directory.GetFiles(dir.File("p")));
    }
}
