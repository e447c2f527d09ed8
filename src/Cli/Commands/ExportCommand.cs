using System.CommandLine;
using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.OnnxEngine;

namespace MlPipelines.Cli.Commands;

/// <summary><c>mlpipe export</c>: a checkpoint to an ONNX decoder directory, from .NET.</summary>
internal static class ExportCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string?>("--model") { Description = $"Model file, directory or name (default: {ModelLocator.DefaultModelName})." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer to copy beside the model (default: the one beside the checkpoint)." };
        var output = new Option<string>("--out", "-o") { Description = "Directory to write model.onnx, its data and mlpipe.json into.", Required = true };
        var external = new Option<bool>("--external-data") { Description = "Store the weights in model.onnx.data (always done above 2 GB)." };
        var force = new Option<bool>("--force") { Description = "Replace an existing output directory." };
        var profile = ExportWeights.ProfileOption("portable: standard opset-17 ops, every provider (default); fused (alias genai): " +
            "ONNX Runtime's contrib operators as onnxruntime-genai's builder uses them (GroupQueryAttention, MatMulNBits, …).");
        var weightsOption = ExportWeights.WeightsOption(
            "Linear-layer weights: fp32 (default), fp16, int4, int4-asym, int8 (= ggml Q8_0); all but fp32 need --profile fused.");
        var accuracy = new Option<int>("--accuracy-level")
        {
            Description = "MatMulNBits accuracy_level for int4/int8: 4 = int8 activations (default, fastest), 0 = fp32 arithmetic.",
            DefaultValueFactory = _ => 4,
        };
        var blockSize = new Option<int?>("--block-size")
        {
            Description = "Values per int4/int8 quantisation block, a power of two from 16 to 256. Default: 128 for int4 (ONNX Runtime's " +
                "CPU kernels then read 4.5 bits per weight, as llama.cpp's Q4_0; blocks of 32 read 6), 32 for int8. " +
                "32 = ggml's blocks: a GGUF's Q4_0/Q8_0 blocks are carried bit for bit.",
        };
        var command = new Command("export", "Export a model to ONNX, with genai_config.json and tokenizer.json for onnxruntime-genai.")
        {
            model, tokenizer, output, external, force, profile, weightsOption, accuracy, blockSize,
        };
        command.SetAction((parse, ct) =>
        {
            var resolved = ResolvedModel.Resolve(parse.GetValue(model), parse.GetValue(tokenizer));
            string checkpoint = resolved.Path;
            string tokenizerFile = resolved.TokenizerFile
                ?? throw new ArgumentException($"'{checkpoint}' is already an ONNX export; name the model it was exported from.");
            OnnxExportProfile exportProfile = ExportWeights.Profile(parse.GetValue(profile)!);
            OnnxWeightPrecision precision = ExportWeights.Parse(parse.GetValue(weightsOption)!);
            ExportWeights.Check(exportProfile, precision);
            var options = new OnnxExportOptions
            {
                ExternalData = parse.GetValue(external),
                Force = parse.GetValue(force),
                TokenizerPath = tokenizerFile,
                Profile = exportProfile,
                Weights = precision,
                MatMulAccuracyLevel = parse.GetValue(accuracy),
                BlockSize = parse.GetValue(blockSize),
            };
            OnnxExportResult result = ModelExport.Export(resolved, parse.GetValue(output)!, options, ct);
            console.Out.WriteLine($"exported {checkpoint} to {result.OutputDirectory}: {result.ModelBytes:N0} bytes" +
                (result.ExternalDataBytes > 0 ? $" + {result.ExternalDataBytes:N0} bytes of external data" : "") +
                $" in {result.Elapsed.TotalSeconds:F1} s");
            if (result.RequantizedFormats.Count > 0)
                console.Error.WriteLine($"note: matrices stored as {string.Join(", ", result.RequantizedFormats)} were dequantised and quantised " +
                    $"again as {result.Manifest.Weights} in blocks of {result.Manifest.BlockSize}" +
                    (result.RequantizedFormats.Contains("Q4_0") && result.Manifest.BlockSize != 32 && precision == OnnxWeightPrecision.Int4
                        ? "; --block-size 32 carries Q4_0 blocks unchanged." : "."));
            if (result.GenAiTokenizerProblem is { } problem)
                console.Error.WriteLine($"note: no tokenizer.json for onnxruntime-genai: {problem}");
            return Task.FromResult(0);
        });
        return command;
    }
}
