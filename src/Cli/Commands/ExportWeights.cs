using System.CommandLine;
using MlPipelines.Exporter;

namespace MlPipelines.Cli.Commands;

/// <summary>The <c>--profile</c> and <c>--weights</c> values that <c>export</c> and <c>bench</c> share.</summary>
internal static class ExportWeights
{
    /// <summary>The <c>--weights</c> values, as the manifest names them.</summary>
    public static readonly string[] Names = [.. Enum.GetValues<OnnxWeightPrecision>().Select(OnnxExporter.WeightsName)];

    /// <summary>The <c>--profile</c> option (<c>portable</c>, <c>fused</c>, or its alias <c>genai</c>).</summary>
    public static Option<string> ProfileOption(string description)
    {
        var option = new Option<string>("--profile") { Description = description, DefaultValueFactory = _ => "portable" };
        option.AcceptOnlyFromAmong("portable", "fused", "genai");
        return option;
    }

    /// <summary>The <c>--weights</c> option (<see cref="Names"/>).</summary>
    public static Option<string> WeightsOption(string description)
    {
        var option = new Option<string>("--weights") { Description = description, DefaultValueFactory = _ => "fp32" };
        option.AcceptOnlyFromAmong(Names);
        return option;
    }

    /// <summary>The precision a <c>--weights</c> value names.</summary>
    public static OnnxWeightPrecision Parse(string name) =>
        Enum.GetValues<OnnxWeightPrecision>().First(w => OnnxExporter.WeightsName(w) == name);

    /// <summary>The profile a <c>--profile</c> value names (<c>genai</c> is an alias of <c>fused</c>).</summary>
    public static OnnxExportProfile Profile(string name) => name == "portable" ? OnnxExportProfile.Portable : OnnxExportProfile.Fused;

    /// <summary>The error for quantised or fp16 weights asked of the portable profile, in the flags' terms.</summary>
    public static void Check(OnnxExportProfile profile, OnnxWeightPrecision weights)
    {
        if (profile == OnnxExportProfile.Portable && weights != OnnxWeightPrecision.Float32)
            throw new ArgumentException($"--weights {OnnxExporter.WeightsName(weights)} needs --profile fused: the portable profile stores fp32 weights only.");
    }
}
