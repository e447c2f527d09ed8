using System.Runtime.CompilerServices;
using MlPipelines.ManagedEngine.Model;
using MlPipelines.ManagedEngine.Tokenization;

namespace MlPipelines.ManagedEngine.Generation;

/// <summary>
/// Generated text as it is produced, piece by piece, already decoded: bytes of a character split across tokens
/// (byte-fallback pieces) are held back until the character is complete, so no chunk ends in half a character and the
/// chunks joined equal the tokenizer's decoding of the generated ids.
/// </summary>
public static class TextStream
{
    /// <summary>
    /// Encodes <paramref name="prompt"/> (with BOS), generates on <paramref name="session"/> and yields the new text
    /// (the prompt is not repeated) in chunks as soon as they are complete characters.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt does not fit the model's context.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static async IAsyncEnumerable<string> GenerateTextAsync(IModelSession session, PieceTokenizer tokenizer, string prompt,
        GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompt);
        int[] ids = tokenizer.Encode(prompt, addBos: true, addEos: false);
        var text = new Utf8TextBuilder();
        int emitted = 0;
        await foreach (GeneratedToken token in Generator.GenerateAsync(session, ids, options, cancellationToken).ConfigureAwait(false))
        {
            if (token.IsPrompt) continue;
            text.AppendBytes(tokenizer.GetPieceBytes(token.Previous, token.Id));
            if (text.Length > emitted)
            {
                yield return text.ToString(emitted);
                emitted = text.Length;
            }
        }
        text.Flush();   // a character never completed: its bytes become U+FFFD, as the tokenizer's Decode gives them
        if (text.Length > emitted)
            yield return text.ToString(emitted);
    }
}
