using System.CommandLine;
using MlPipelines.ManagedEngine.Chat;
using MlPipelines.ManagedEngine.Formats.Gguf;
using MlPipelines.ManagedEngine.Loading;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe quantize</c>: any supported model to a GGUF file of the chosen type (llama.cpp's tensor-type choices for it),
/// with its vocabulary and chat template, which llama.cpp and the managed engine both load.
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create(CliConsole console)
    {
        var model = new Option<string?>("--model") { Description = $"Model file, directory or name (default: {ModelLocator.DefaultModelName})." };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "Tokenizer to embed (default: the model's own): tokenizer.json, a SentencePiece .model or a GGUF file." };
        var to = new Option<string>("--to") { Description = "q8_0, q4_0, q4_k_m, f16, bf16 or f32.", Required = true };
        to.AcceptOnlyFromAmong("q8_0", "q4_0", "q4_k_m", "f16", "bf16", "f32");
        var output = new Option<string>("--out", "-o") { Description = "The GGUF file to write.", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace an existing file." };
        var pure = new Option<bool>("--pure") { Description = "Every matrix in the chosen type, as llama-quantize --pure (no Q6_K classifier or layers)." };
        var command = new Command("quantize", "Write a model as a GGUF file in a llama.cpp quantisation (q8_0, q4_0, q4_k_m) or in f16/bf16/f32.")
        {
            model, tokenizer, to, output, force, pure,
        };
        command.SetAction((parse, ct) =>
        {
            var resolved = ResolvedModel.Resolve(parse.GetValue(model), parse.GetValue(tokenizer));
            if (resolved.Format == ModelFormat.OnnxExport)
                throw new ArgumentException($"'{resolved.Path}' is an ONNX export; quantize the model it was exported from.");
            string path = parse.GetValue(output)!;
            if (File.Exists(path) && !parse.GetValue(force))
                throw new IOException($"'{path}' exists; pass --force to replace it.");
            var quantization = Enum.Parse<GgufQuantization>(parse.GetValue(to)!, ignoreCase: true);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using (var weights = resolved.Source.LoadWeights())
            {
                GgufCheckpointWriter.Write(weights, path, new GgufWriteOptions
                {
                    TokenizerPath = EmbeddableTokenizer(resolved.TokenizerFile),
                    ChatTemplate = ChatFormat.Find(resolved)?.Template.Source,
                    Quantization = quantization,
                    Pure = parse.GetValue(pure),
                    Name = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(resolved.Path)),
                }, overwrite: true);
            }
            console.Out.WriteLine($"wrote {path}: {quantization}, {new FileInfo(path).Length:N0} bytes in {clock.Elapsed.TotalSeconds:F1} s");
            return Task.FromResult(0);
        });
        return command;
    }

    /// <summary>The tokenizer file if GGUF can carry it (llama2.c tokenizer.bin cannot be embedded yet: the file has none).</summary>
    private static string? EmbeddableTokenizer(string? file) =>
        file is not null && (GgufFile.HasMagic(file) || file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".model", StringComparison.OrdinalIgnoreCase))
            ? file : null;
}
