namespace MlPipelines.ManagedEngine.Tokenization.HuggingFace;

/// <summary>One normalizer of a tokenizer.json (only those that Llama-family files use).</summary>
internal abstract class NormalizerStep
{
    public abstract AlignedText Apply(AlignedText text);
}

/// <summary><c>Prepend</c>: puts a string in front of non-empty text.</summary>
internal sealed class PrependStep(string prefix) : NormalizerStep
{
    public override AlignedText Apply(AlignedText text) => text.Length == 0 ? text : text.Prepend(prefix);
}

/// <summary><c>Replace</c>: every match of a string or regex pattern becomes the content.</summary>
internal sealed class ReplaceStep(CodePointRegex pattern, string content) : NormalizerStep
{
    public override AlignedText Apply(AlignedText text) => text.Replace(pattern.Matches(text.Text), content);
}
