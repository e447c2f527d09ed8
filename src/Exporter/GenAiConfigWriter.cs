using System.Text.Json;
using MlPipelines.ManagedEngine.Formats.Safetensors;
using MlPipelines.ManagedEngine.Model;

namespace MlPipelines.Exporter;

/// <summary>
/// Writes the <c>genai_config.json</c> that onnxruntime-genai reads beside a decoder: the model's shape, the graph's
/// input and output names (<see cref="LlamaOnnxNames"/>), the special token ids and the search defaults, so an export
/// runs in genai's <c>Model</c>/<c>Generator</c> with no file added or edited.
/// </summary>
/// <remarks>
/// The portable graph returns <c>present</c> as the past followed by the new positions (a growing tensor), so the
/// search's <c>past_present_share_buffer</c> is false; the fused graph's GroupQueryAttention writes the new positions into
/// the past buffer itself (true), and it takes no <c>position_ids</c>. The search defaults come from the source's
/// <c>generation_config.json</c> when there is one (transformers' defaults otherwise: greedy); <c>max_length</c> is the
/// context length.
/// </remarks>
internal static class GenAiConfigWriter
{
    /// <summary>The file name genai looks for in a model directory.</summary>
    public const string FileName = "genai_config.json";

    /// <param name="c">The model's configuration.</param>
    /// <param name="generation">The source's generation_config.json, if any.</param>
    /// <param name="sharedKvBuffer">The fused graph: one KV buffer for past and present, no position_ids.</param>
    /// <param name="kvHeadWidth">The KV cache's head width in the graph when it differs from the model's (padded heads).</param>
    public static byte[] Write(ModelConfig c, HuggingFaceGenerationConfig? generation, bool sharedKvBuffer = false, int? kvHeadWidth = null)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("model");
            w.WriteNumber("bos_token_id", c.BosId);
            w.WriteNumber("context_length", c.MaxSequenceLength);
            WriteDecoder(w, c, sharedKvBuffer, kvHeadWidth ?? c.HeadDim);
            int[] eos = EndOfSequenceIds(c, generation);
            if (eos.Length == 1)
                w.WriteNumber("eos_token_id", eos[0]);
            else
            {
                w.WriteStartArray("eos_token_id");
                foreach (int id in eos) w.WriteNumberValue(id);
                w.WriteEndArray();
            }
            // No padding token of its own: genai pads batches with it, and the attention mask hides it anyway.
            w.WriteNumber("pad_token_id", eos[0]);
            w.WriteString("type", "llama");
            w.WriteNumber("vocab_size", c.VocabSize);
            w.WriteEndObject();
            WriteSearch(w, c, generation ?? new HuggingFaceGenerationConfig(), sharedKvBuffer);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The configuration's EOS first, then its other stop ids and the generation config's, without repeats.</summary>
    internal static int[] EndOfSequenceIds(ModelConfig c, HuggingFaceGenerationConfig? generation) =>
        new[] { c.EosId }.Concat(c.StopIds).Concat(generation?.EosTokenIds ?? []).Distinct().ToArray();

    private static void WriteDecoder(Utf8JsonWriter w, ModelConfig c, bool sharedKvBuffer, int headSize)
    {
        w.WriteStartObject("decoder");
        w.WriteStartObject("session_options");
        w.WriteString("log_id", "onnxruntime-genai");
        w.WriteStartArray("provider_options");   // empty: the CPU provider; genai's API adds others at run time
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteString("filename", ExportManifest.ModelFileName);
        w.WriteNumber("head_size", headSize);   // genai sizes its KV buffers with it
        w.WriteNumber("hidden_size", c.Dim);
        w.WriteStartObject("inputs");
        w.WriteString("input_ids", LlamaOnnxNames.InputIds);
        w.WriteString("attention_mask", LlamaOnnxNames.AttentionMask);
        if (!sharedKvBuffer)
            w.WriteString("position_ids", LlamaOnnxNames.PositionIds);
        w.WriteString("past_key_names", Pattern(LlamaOnnxNames.PastKey));
        w.WriteString("past_value_names", Pattern(LlamaOnnxNames.PastValue));
        w.WriteEndObject();
        w.WriteStartObject("outputs");
        w.WriteString("logits", LlamaOnnxNames.Logits);
        w.WriteString("present_key_names", Pattern(LlamaOnnxNames.PresentKey));
        w.WriteString("present_value_names", Pattern(LlamaOnnxNames.PresentValue));
        w.WriteEndObject();
        w.WriteNumber("num_attention_heads", c.HeadCount);
        w.WriteNumber("num_hidden_layers", c.LayerCount);
        w.WriteNumber("num_key_value_heads", c.KvHeadCount);
        w.WriteEndObject();
    }

    /// <summary>A per-layer name as genai's printf pattern: <c>past_key_values.%d.key</c>.</summary>
    private static string Pattern(Func<int, string> name)
    {
        const int Marker = 987654321;
        return name(Marker).Replace(Marker.ToString(System.Globalization.CultureInfo.InvariantCulture), "%d", StringComparison.Ordinal);
    }

    private static void WriteSearch(Utf8JsonWriter w, ModelConfig c, HuggingFaceGenerationConfig g, bool sharedKvBuffer)
    {
        w.WriteStartObject("search");
        w.WriteNumber("diversity_penalty", 0.0);
        w.WriteBoolean("do_sample", g.DoSample);
        w.WriteBoolean("early_stopping", true);
        w.WriteNumber("length_penalty", 1.0);
        w.WriteNumber("max_length", c.MaxSequenceLength);
        w.WriteNumber("min_length", 0);
        w.WriteNumber("no_repeat_ngram_size", 0);
        w.WriteNumber("num_beams", 1);
        w.WriteNumber("num_return_sequences", 1);
        w.WriteBoolean("past_present_share_buffer", sharedKvBuffer);
        w.WriteNumber("repetition_penalty", 1.0);
        w.WriteNumber("temperature", g.Temperature);
        w.WriteNumber("top_k", g.TopK);
        w.WriteNumber("top_p", g.TopP);
        w.WriteEndObject();
    }
}
