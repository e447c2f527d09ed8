using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.Tests.Support;

namespace MlPipelines.OnnxEngine.Tests.Onnx;

/// <summary>
/// The export cache keeps each profile and weight precision of a checkpoint as its own export, exported once: what
/// <c>mlpipe bench --profile fused --weights int4</c> and the engines' "open a checkpoint on ONNX Runtime" rely on.
/// </summary>
public sealed class OnnxExportCacheTests
{
    [Fact]
    public void Each_profile_and_precision_is_its_own_export_made_once()
    {
        using var cache = new TempDir();
        ResolvedModel model = ResolvedModel.Resolve(TestPaths.Stories260K, TestPaths.Tok512Bin);

        string portable = OnnxExportCache.GetOrExport(model, cache.Path, out bool first);
        string int4 = OnnxExportCache.GetOrExport(model, cache.Path, OnnxExportProfile.Fused, OnnxWeightPrecision.Int4, out bool firstInt4);
        string again = OnnxExportCache.GetOrExport(model, cache.Path, OnnxExportProfile.Fused, OnnxWeightPrecision.Int4, out bool second);

        Assert.True(first && firstInt4 && !second);
        Assert.Equal(int4, again);
        Assert.NotEqual(portable, int4);
        Assert.EndsWith("-fused-int4-b128", int4);   // the block size in the name: an export made under another default is not reused
        Assert.Equal(128, ExportManifest.Read(int4).BlockSize);
        Assert.Equal(("portable", "fp32"), (ExportManifest.Read(portable).Profile, ExportManifest.Read(portable).Weights));
        Assert.Equal(("fused", "int4"), (ExportManifest.Read(int4).Profile, ExportManifest.Read(int4).Weights));
        Assert.Throws<ArgumentException>(() =>
            OnnxExportCache.GetOrExport(model, cache.Path, OnnxExportProfile.Portable, OnnxWeightPrecision.Int8, out _));
    }
}
