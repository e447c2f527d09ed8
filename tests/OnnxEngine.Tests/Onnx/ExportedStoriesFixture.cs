using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Formats;
using MlPipelines.ManagedEngine.Formats.Llama2c;
using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>stories260K exported once for the whole test class, and both engines loaded on it.</summary>
public sealed class ExportedStoriesFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public ExportedStoriesFixture()
    {
        ExportDirectory = _dir.File("stories260K-onnx");
        using (var weights = Llama2cCheckpoint.Load(TestPaths.Stories260K))
            OnnxExporter.Export(weights, ExportDirectory, new OnnxExportOptions { TokenizerPath = TestPaths.Tok512Bin });
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
    }
}
