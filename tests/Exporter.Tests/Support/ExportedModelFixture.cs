using MlPipelines.ManagedEngine.Inference;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.Exporter.Tests.Support;

/// <summary>stories260K loaded in the managed engine and exported once (embedded weights) for a test class.</summary>
public sealed class Stories260KFixture : IDisposable
{
    private readonly TempDir _dir = new();

    public Stories260KFixture()
    {
        Model = ManagedModelLoader.LoadModel(TestPaths.Stories260K);
        Export = OnnxExporter.Export(Model.Weights, Path.Combine(_dir.Path, "onnx"), new OnnxExportOptions { TokenizerPath = TestPaths.Tok512Bin });
        Decoder = new OnnxDecoder(Export.ModelPath, Model.Config);
    }

    internal TransformerModel Model { get; }
    internal OnnxExportResult Export { get; }
    internal OnnxDecoder Decoder { get; }

    public void Dispose()
    {
        Decoder.Dispose();
        Model.Dispose();
        _dir.Dispose();
    }
}
