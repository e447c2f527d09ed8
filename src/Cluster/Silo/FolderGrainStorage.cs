using System.Security.Cryptography;
using System.Text;
using Orleans.Serialization;
using Orleans.Storage;

namespace MlPipelines.Cluster.Silo;

/// <summary>
/// Grain state as files in a folder every silo reaches (a shared disk or mount — the same place the job's inputs and
/// parts live), so a job survives any silo, and the whole cluster, restarting, with no database. Orleans ships storage
/// providers for memory, Redis, ADO.NET and cloud stores but none for files, hence this one: one file per grain, written
/// through a temporary name and renamed, with an ETag checked on write so two activations cannot overwrite each other.
/// </summary>
internal sealed class FolderGrainStorage(string directory, Serializer serializer) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string path = PathFor(stateName, grainId);
        if (!File.Exists(path))
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
            return Task.CompletedTask;
        }
        (string etag, byte[] payload) = ReadFile(path);
        grainState.State = serializer.Deserialize<T>(payload);
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string path = PathFor(stateName, grainId);
        CheckETag(path, grainState.ETag, stateName, grainId);
        string etag = Guid.NewGuid().ToString("N");
        byte[] payload = serializer.SerializeToArray(grainState.State);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                file.Write(Encoding.ASCII.GetBytes(etag));
                file.Write(payload);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        string path = PathFor(stateName, grainId);
        CheckETag(path, grainState.ETag, stateName, grainId);
        File.Delete(path);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }

    private static void CheckETag(string path, string? expected, string stateName, GrainId grainId)
    {
        string? stored = File.Exists(path) ? ReadFile(path).ETag : null;
        if (stored != expected)
            throw new InconsistentStateException(
                $"{stateName} of {grainId} in {path} was written by another activation (stored version {stored ?? "none"}, expected {expected ?? "none"}).",
                stored, expected);
    }

    // A file is the 32-character ETag, then the serialized state.
    private static (string ETag, byte[] Payload) ReadFile(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 32)
            throw new InvalidDataException($"{path}: {bytes.Length} bytes is too short for grain state (expected a 32-character version, then the state).");
        return (Encoding.ASCII.GetString(bytes, 0, 32), bytes[32..]);
    }

    private string PathFor(string stateName, GrainId grainId)
    {
        // Grain ids may hold any characters; the file name is a hash, with the grain type kept readable.
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(grainId.ToString())))[..32];
        string type = new string(grainId.Type.ToString()!.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());
        return Path.Combine(directory, stateName, $"{type}-{hash}.state");
    }
}
