using System.CommandLine;
using MlPipelines.Exporter;
using MlPipelines.ManagedEngine.Loading;

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
        var command = new Command("export", "Export a model to ONNX (standard opset-17 ops; runs on every ONNX Runtime provider).")
        {
            model, tokenizer, output, external, force,
        };
        command.SetAction((parse, ct) =>
        {
            var resolved = ResolvedModel.Resolve(parse.GetValue(model), parse.GetValue(tokenizer));
            string checkpoint = resolved.Path;
            string tokenizerFile = resolved.TokenizerFile
                ?? throw new ArgumentException($"'{checkpoint}' is already an ONNX export; name the model it was exported from.");
            using var weights = resolved.Source.LoadWeights();
            var result = OnnxExporter.Export(weights, parse.GetValue(output)!, new OnnxExportOptions
            {
                ExternalData = parse.GetValue(external),
                Force = parse.GetValue(force),
                TokenizerPath = tokenizerFile,
            }, ct);
            console.Out.WriteLine($"exported {checkpoint} to {result.OutputDirectory}: {result.ModelBytes:N0} bytes" +
                (result.ExternalDataBytes > 0 ? $" + {result.ExternalDataBytes:N0} bytes of external data" : "") +
                $" in {result.Elapsed.TotalSeconds:F1} s");
            if (result.GenAiTokenizerProblem is { } problem)
                console.Error.WriteLine($"note: no tokenizer.json for onnxruntime-genai: {problem}");
            return Task.FromResult(0);
        });
        return command;
    }
}
