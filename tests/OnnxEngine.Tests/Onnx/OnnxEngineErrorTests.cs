using MlPipelines.Exporter;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

public class OnnxEngineErrorTests(ExportedStoriesFixture f) : IClassFixture<ExportedStoriesFixture>
{
    private static string CopyExport(string source, TempDir dir)
    {
        string target = dir.File("copy");
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source))
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return target;
    }

    [Fact]
    public void Requesting_cuda_throws_the_dedicated_exception_naming_the_package()
    {
        var e = Assert.Throws<ExecutionProviderUnavailableException>(() =>
            OnnxLanguageModel.Load(f.ExportDirectory, new EngineOptions { Provider = ExecutionProvider.Cuda }));
        Assert.Equal(ExecutionProvider.Cuda, e.Provider);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", e.Message);
        Assert.Contains("Linux", e.Message);

        using var model = OnnxLanguageModel.Load(f.ExportDirectory, new EngineOptions { Provider = ExecutionProvider.DirectML, FallbackToCpu = true });
        Assert.Equal(ExecutionProvider.Cpu, model.ActiveProvider);
        Assert.Contains("Microsoft.ML.OnnxRuntime.DirectML", model.FallbackNotice);
    }

    [Fact]
    public void Missing_directory_or_model_file_is_a_clear_error()
    {
        using var dir = new TempDir();
        Assert.Throws<DirectoryNotFoundException>(() => OnnxLanguageModel.Load(dir.File("nope")));
        var noManifest = Assert.Throws<FileNotFoundException>(() => OnnxLanguageModel.Load(dir.Path));
        Assert.Contains(ExportManifest.FileName, noManifest.Message);

        string copy = CopyExport(f.ExportDirectory, dir);
        File.Delete(Path.Combine(copy, ExportManifest.ModelFileName));
        var noModel = Assert.Throws<FileNotFoundException>(() => OnnxLanguageModel.Load(copy));
        Assert.Contains(ExportManifest.ModelFileName, noModel.Message);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("garbage")]
    [InlineData("empty")]
    public void Broken_model_files_are_reported_with_the_path(string damage)
    {
        using var dir = new TempDir();
        string copy = CopyExport(f.ExportDirectory, dir);
        string model = Path.Combine(copy, ExportManifest.ModelFileName);
        byte[] bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(model, damage switch
        {
            "truncated" => bytes[..(bytes.Length / 2)],
            "garbage" => System.Text.Encoding.ASCII.GetBytes("this is not an ONNX model at all, just text\n"),
            _ => [],
        });
        var e = Assert.Throws<InvalidDataException>(() => OnnxLanguageModel.Load(copy));
        Assert.Contains(model, e.Message);
    }

    [Fact]
    public void A_model_whose_inputs_do_not_match_the_manifest_is_rejected()
    {
        // The manifest claims a sixth layer, so the model lacks past_key_values.5.*.
        using var dir = new TempDir();
        string copy = CopyExport(f.ExportDirectory, dir);
        var manifest = ExportManifest.Read(copy);
        File.WriteAllText(Path.Combine(copy, ExportManifest.FileName),
            (manifest with { Config = manifest.Config with { LayerCount = manifest.Config.LayerCount + 1 } }).ToJson());
        var e = Assert.Throws<InvalidDataException>(() => OnnxLanguageModel.Load(copy));
        Assert.Contains("past_key_values.5", e.Message);

        // A manifest with the wrong head size: the past inputs' fixed axis disagrees.
        File.WriteAllText(Path.Combine(copy, ExportManifest.FileName),
            (manifest with { Config = manifest.Config with { KvHeadCount = 8 } }).ToJson());
        e = Assert.Throws<InvalidDataException>(() => OnnxLanguageModel.Load(copy));
        Assert.Contains("axis 1", e.Message);
    }
}
