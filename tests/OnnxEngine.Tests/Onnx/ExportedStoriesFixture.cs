using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>stories260K exported once (in a profile) for the whole test class, and both engines loaded on it.</summary>
public abstract class StoriesExportFixture : IDisposable
{
    private readonly TempDir _dir = new();

    protected StoriesExportFixture(OnnxExportProfile profile)
    {
        ExportDirectory = _dir.File("stories260K-" + OnnxExporter.ProfileName(profile));
        using (var weights = Llama2cCheckpoint.Load(TestPaths.Stories260K))
            OnnxExporter.Export(weights, ExportDirectory, new OnnxExportOptions { TokenizerPath = TestPaths.Tok512Bin, Profile = profile });
        Managed = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        Onnx = OnnxLanguageModel.Load(ExportDirectory);
    }

    public string ExportDirectory { get; }
    public TransformerModel Managed { get; }
    public OnnxLanguageModel Onnx { get; }

    public void Dispose()
    {
        Onnx.Dispose();
        Managed.Dispose();
        _dir.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The portable export (standard opset-17 operators).</summary>
public sealed class ExportedStoriesFixture() : StoriesExportFixture(OnnxExportProfile.Portable);

/// <summary>The fused export (fp32): GroupQueryAttention with a shared KV buffer, heads padded to 16.</summary>
public sealed class FusedStoriesFixture() : StoriesExportFixture(OnnxExportProfile.Fused);
