namespace MlPipelines.ManagedEngine.Formats.Safetensors;

/// <summary>
/// Undoes the row permutation Hugging Face's conversion script (<c>convert_llama_weights_to_hf.py</c>,
/// its <c>permute</c>) applies to q_proj and k_proj. Meta's checkpoints, llama2.c and this engine
/// rotate adjacent pairs <c>(x[2i], x[2i+1])</c>; transformers rotates halves <c>(x[i], x[i + d/2])</c>
/// and permutes the rows of each head so that both compute the same function. Reading the rows
/// back in Meta order restores our convention without touching the forward pass.
/// </summary>
internal static class RotaryRows
{
    /// <summary>
    /// The Hugging Face row holding Meta row <paramref name="metaRow"/> of a q or k projection with
    /// heads of <paramref name="headDim"/> rows: within each head, Meta row 2j is HF row j and Meta
    /// row 2j+1 is HF row headDim/2 + j (the first half holds the pairs' first elements).
    /// </summary>
    public static int HuggingFaceRow(int metaRow, int headDim)
    {
        int head = metaRow / headDim, r = metaRow % headDim;
        return head * headDim + (r % 2 == 0 ? r / 2 : headDim / 2 + r / 2);
    }
}
