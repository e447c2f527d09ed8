using System.CommandLine;
using System.Globalization;
using MlPipelines.ManagedEngine.Loading;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.Cli.Commands;

/// <summary><c>mlpipe tokenize</c>: text to token ids, or ids back to text with <c>--decode</c>.</summary>
internal static class TokenizeCommand
{
    public static Command Create(CliConsole console)
    {
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "A .model file, a llama2.c tokenizer.bin, a Hugging Face tokenizer.json, a GGUF file, or a model whose tokenizer lies beside it (default: the default model's)." };
        var text = new Option<string?>("--text") { Description = "The text to tokenize (default: read standard input)." };
        var lines = new Option<bool>("--lines") { Description = "Treat each input line as its own text and print one line of ids per input line." };
        var decode = new Option<bool>("--decode") { Description = "The input is token ids (space separated); print the text they decode to." };
        var noBos = new Option<bool>("--no-bos") { Description = "Do not put BOS before the ids." };
        var command = new Command("tokenize", "Turn text into token ids, or ids into text.") { tokenizer, text, lines, decode, noBos };
        command.SetAction(parse =>
        {
            PieceTokenizer tok = ManagedModelLoader.LoadTokenizer(parse.GetValue(tokenizer), modelNameOrPath: null);
            string input = parse.GetValue(text) ?? console.In.ReadToEnd();
            IEnumerable<string> inputs = parse.GetValue(lines) ? SplitLines(input) : [input];
            foreach (string item in inputs)
            {
                if (parse.GetValue(decode))
                    console.Out.WriteLine(tok.Decode(ParseIds(item, tok.VocabularySize)));
                else
                    console.Out.WriteLine(string.Join(' ', tok.Encode(item, addBos: !parse.GetValue(noBos), addEos: false)));
            }
            return 0;
        });
        return command;
    }

    private static IEnumerable<string> SplitLines(string input)
    {
        string[] parts = input.Replace("\r\n", "\n").Split('\n');
        // A final newline ends the last line rather than starting an empty one.
        int count = parts.Length > 0 && parts[^1].Length == 0 ? parts.Length - 1 : parts.Length;
        return parts.Take(count);
    }

    private static int[] ParseIds(string text, int vocabSize)
    {
        string[] parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]) || ids[i] >= vocabSize)
                throw new FormatException($"'{parts[i]}' is not a token id: expected integers from 0 to {vocabSize - 1}, separated by spaces.");
        }
        return ids;
    }
}
