using MlPipelines.Exporter.Onnx;
using MlPipelines.Exporter.Tests.Support;
using MlPipelines.Tests.Support;

namespace MlPipelines.Exporter.Tests;

/// <summary>How an export treats its output directory: refuse, replace, external data, and never a partial result.</summary>
public sealed class ExportDirectoryTests(Stories260KFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<Stories260KFixture>
{
    [Fact]
    public void ExistingNonEmptyDirectoryIsRefusedWithoutForceAndLeftUntouched()
    {
        using var dir = new TempDir();
        string target = dir.File("out");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep.txt"), "mine");

        var e = Assert.Throws<IOException>(() => OnnxExporter.Export(fixture.Model.Weights, target));
        Assert.Contains("OnnxExportOptions.Force", e.Message);
        Assert.Equal(["keep.txt"], Directory.GetFileSystemEntries(target).Select(Path.GetFileName));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(target, "keep.txt")));
        Assert.Equal([target], Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void ForceReplacesAnExistingDirectoryAndAnEmptyOneIsUsed()
    {
        using var dir = new TempDir();
        string target = dir.File("out");
        Directory.CreateDirectory(target);
        OnnxExporter.Export(fixture.Model.Weights, target);   // empty: allowed
        File.WriteAllText(Path.Combine(target, "stale.txt"), "old");

        var result = OnnxExporter.Export(fixture.Model.Weights, target, new OnnxExportOptions { Force = true });
        Assert.False(File.Exists(Path.Combine(target, "stale.txt")));
        Assert.True(File.Exists(result.ModelPath));
        Assert.Equal([target], Directory.GetFileSystemEntries(dir.Path));   // no temporary or old directories left
    }

    [Fact]
    public void FailureBeforePublishingLeavesNoOutput()
    {
        using var dir = new TempDir();
        string target = dir.File("out");
        var failure = new InvalidOperationException("injected");
        var thrown = Assert.Throws<InvalidOperationException>(() => OnnxExporter.ExportCore(fixture.Model.Weights, target,
            new OnnxExportOptions { ExternalData = true }, CancellationToken.None, beforePublish: _ => throw failure));
        Assert.Same(failure, thrown);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void FailedForcedExportKeepsThePreviousExport()
    {
        using var dir = new TempDir();
        string target = dir.File("out");
        var first = OnnxExporter.Export(fixture.Model.Weights, target);
        byte[] model = File.ReadAllBytes(first.ModelPath);

        Assert.Throws<InvalidOperationException>(() => OnnxExporter.ExportCore(fixture.Model.Weights, target,
            new OnnxExportOptions { Force = true, ExternalData = true }, CancellationToken.None, beforePublish: _ => throw new InvalidOperationException()));
        Assert.Equal(model, File.ReadAllBytes(first.ModelPath));
        Assert.False(File.Exists(Path.Combine(target, ExportManifest.ExternalDataFileName)));
        Assert.Equal([target], Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CancellationLeavesNoOutput(bool externalData)
    {
        using var dir = new TempDir();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            OnnxExporter.Export(fixture.Model.Weights, dir.File("out"), new OnnxExportOptions { ExternalData = externalData }, cts.Token));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void ExternalDataLoadsAndComputesTheSameLogits()
    {
        using var dir = new TempDir();
        var result = OnnxExporter.Export(fixture.Model.Weights, dir.File("ext"), new OnnxExportOptions { ExternalData = true });
        Assert.True(ExportManifest.Read(result.OutputDirectory).ExternalData);
        Assert.NotNull(result.ExternalDataPath);
        Assert.Equal(new FileInfo(result.ExternalDataPath).Length, result.ExternalDataBytes);
        Assert.True(result.ModelBytes < 64 * 1024, $"the model file should hold the graph only, not {result.ModelBytes} bytes");

        // Every large tensor points into the data file at a page-aligned offset, within it.
        ModelProto model;
        using (var stream = File.OpenRead(result.ModelPath))
            model = ModelProto.Parser.ParseFrom(stream);
        var external = model.Graph.Initializer.Where(t => t.DataLocation == TensorProto.Types.DataLocation.External).ToList();
        Assert.Contains(external, t => t.Name == "model.embed_tokens.weight");
        foreach (var t in external)
        {
            var entries = t.ExternalData.ToDictionary(e => e.Key, e => e.Value);
            Assert.Equal(ExportManifest.ExternalDataFileName, entries["location"]);
            long offset = long.Parse(entries["offset"]), length = long.Parse(entries["length"]);
            Assert.Equal(0, offset % 4096);
            Assert.InRange(offset + length, length, result.ExternalDataBytes);
            Assert.False(t.HasRawData);
        }

        output.WriteLine($"stories260K embedded: model.onnx {fixture.Export.ModelBytes} B in {fixture.Export.Elapsed.TotalMilliseconds:F0} ms; " +
            $"external: model.onnx {result.ModelBytes} B + data {result.ExternalDataBytes} B in {result.Elapsed.TotalMilliseconds:F0} ms");
        int[] tokens = Reference.Tokens(12, fixture.Model.Config.VocabSize, seed: 5);
        using var decoder = new OnnxDecoder(result.ModelPath, fixture.Model.Config);
        Assert.Equal(fixture.Decoder.RunSequence(tokens).Logits, decoder.RunSequence(tokens).Logits);
    }

    [Fact]
    public void WeightsAboveTheEmbeddingLimitGoToExternalDataUnasked()
    {
        using var dir = new TempDir();
        var result = OnnxExporter.Export(fixture.Model.Weights, dir.File("big"), new OnnxExportOptions { EmbeddedLimitBytes = 100_000 });
        Assert.True(result.Manifest.ExternalData);
        Assert.True(ExportManifest.Read(result.OutputDirectory).ExternalData);
        Assert.True(File.Exists(result.ExternalDataPath));
    }

    [Fact]
    public void BadOptionsAndMissingTokenizerAreRejectedBeforeWriting()
    {
        using var dir = new TempDir();
        var portableInt4 = Assert.Throws<ArgumentException>(() =>
            OnnxExporter.Export(fixture.Model.Weights, dir.File("a"), new OnnxExportOptions { Weights = OnnxWeightPrecision.Int4 }));
        Assert.Contains("fused", portableInt4.Message);
        Assert.Throws<ArgumentException>(() => OnnxExporter.Export(fixture.Model.Weights, dir.File("c"),
            new OnnxExportOptions { Profile = OnnxExportProfile.Fused, Weights = OnnxWeightPrecision.Int8, MatMulAccuracyLevel = 5 }));
        Assert.Throws<FileNotFoundException>(() =>
            OnnxExporter.Export(fixture.Model.Weights, dir.File("b"), new OnnxExportOptions { TokenizerPath = dir.File("missing.bin") }));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Hugging_Face_weights_loaded_as_stored_are_refused_with_what_to_export_instead()
    {
        using var dir = new TempDir();
        string source = Path.Combine(TestPaths.Models, "stories260K-hf");
        using var stored = MlPipelines.ManagedEngine.Formats.Safetensors.HuggingFaceCheckpoint.LoadStored(source);
        var e = Assert.Throws<NotSupportedException>(() =>
            OnnxExporter.Export(stored, dir.File("out"), new OnnxExportOptions { Profile = OnnxExportProfile.Fused }));
        Assert.Contains("HuggingFaceCheckpoint.Load", e.Message);
        Assert.False(Directory.Exists(dir.File("out")));
    }
}
