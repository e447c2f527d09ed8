using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using MlPipelines.ManagedEngine.Formats;

namespace MlPipelines.OnnxEngine;

/// <summary>
/// ONNX Runtime's CPU memory from transparent huge pages. Decode streams every weight once per token, and ONNX Runtime
/// keeps its prepacked weights (MatMulNBits' int4/int8 blocks, scales and block sums) in memory it allocates itself; on
/// Linux with THP in <c>madvise</c> mode (the usual default) those are 4 KB pages, which cost a translation per page and
/// stop the hardware prefetchers at every page boundary. This allocator is registered once with the process's ONNX
/// Runtime environment and sessions opt in with <c>session.use_env_allocators</c>: buffers of 2 MB and more come aligned
/// to and advised for huge pages (<see cref="PageAdvice.AllocateStreamed"/>), the rest as before from the C heap.
/// </summary>
/// <remarks>
/// The C# binding of ONNX Runtime does not expose <c>RegisterAllocator</c> (only ONNX Runtime's own arena), so it is
/// called through the C API's function table. That table is append-only across ONNX Runtime versions (its ABI promise),
/// so the slots below — the order of <c>onnxruntime_c_api.h</c>, which the C# binding's own <c>OrtApi</c> mirror also
/// follows — stay valid. If registration fails — another CPU allocator
/// is already registered in the process, or the native library predates the call — sessions keep ONNX Runtime's default
/// allocator and nothing else changes.
/// </remarks>
internal static unsafe class HugePageAllocator
{
    // OrtApi slots (zero-based) of the functions used; OrtApiBase::GetApi is asked for API version 16 (ONNX Runtime
    // 1.16), which already has all three.
    private const int GetErrorMessageSlot = 2, ReleaseStatusSlot = 93, RegisterAllocatorSlot = 176;
    private const uint ApiVersion = 16;

    /// <summary>The C API's <c>OrtAllocator</c> at version 16: no <c>Reserve</c>, <c>GetStats</c> or stream allocation,
    /// which ONNX Runtime only calls on allocators that declare a later version.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct OrtAllocator
    {
        public uint Version;
        public delegate* unmanaged<OrtAllocator*, nuint, void*> Alloc;
        public delegate* unmanaged<OrtAllocator*, void*, void> Free;
        public delegate* unmanaged<OrtAllocator*, nint> Info;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct OrtApiBase
    {
        public delegate* unmanaged<uint, nint*> GetApi;
        public delegate* unmanaged<byte*> GetVersionString;
    }

    private static readonly object Gate = new();
    private static bool _attempted;
    private static string? _failure;
    // Lives for the whole process, as the registered allocator (never freed) does: ONNX Runtime keeps both until the
    // environment ends.
    private static OrtMemoryInfo? _info;

    /// <summary>
    /// Makes sessions created with <paramref name="options"/> allocate CPU memory through this allocator; false (and the
    /// options untouched) when it could not be registered (<see cref="Failure"/> says why) or on operating systems
    /// other than Linux, where there is no <c>madvise</c> to ask for huge pages with.
    /// </summary>
    public static bool Apply(SessionOptions options)
    {
        if (!OperatingSystem.IsLinux() || !Enabled || Environment.GetEnvironmentVariable(DisableVariable) == "0" || !EnsureRegistered())
            return false;
        options.AddSessionConfigEntry("session.use_env_allocators", "1");
        return true;
    }

    /// <summary>The environment variable that, set to <c>0</c>, leaves ONNX Runtime's own allocator in place.</summary>
    public const string DisableVariable = "MLPIPE_ORT_HUGEPAGES";

    /// <summary>Whether <see cref="Apply"/> opts sessions in (tests compare sessions with and without).</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Bytes ONNX Runtime has allocated through this allocator since the process started.</summary>
    public static long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);
    private static long _allocatedBytes;

    /// <summary>Why registration failed, or null (not tried, or registered).</summary>
    public static string? Failure { get { lock (Gate) return _failure; } }

    private static bool EnsureRegistered()
    {
        lock (Gate)
        {
            if (!_attempted)
            {
                _attempted = true;
                _failure = Register();
            }
            return _failure == null;
        }
    }

    private static string? Register()
    {
        OrtEnv env = OrtEnv.Instance();
        OrtApiBase* apiBase = OrtGetApiBase();
        nint* api = apiBase == null ? null : apiBase->GetApi(ApiVersion);
        if (api == null)
            return $"the ONNX Runtime library does not offer C API version {ApiVersion}";

        _info ??= new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.DeviceAllocator, 0, OrtMemType.Default);
        var allocator = (OrtAllocator*)NativeMemory.AllocZeroed((nuint)sizeof(OrtAllocator));
        allocator->Version = ApiVersion;
        allocator->Alloc = &Alloc;
        allocator->Free = &Free;
        allocator->Info = &Info;

        var register = (delegate* unmanaged<nint, OrtAllocator*, nint>)api[RegisterAllocatorSlot];
        nint status = register(env.DangerousGetHandle(), allocator);
        if (status == 0)
            return null;
        string message = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, nint>)api[GetErrorMessageSlot])(status)) ?? "unknown error";
        ((delegate* unmanaged<nint, void>)api[ReleaseStatusSlot])(status);
        // Never registered, so ONNX Runtime holds no pointer to it.
        NativeMemory.Free(allocator);
        return message;
    }

    // Called from ONNX Runtime's threads: must not throw. A null return is ONNX Runtime's out-of-memory signal.
    [UnmanagedCallersOnly]
    private static void* Alloc(OrtAllocator* self, nuint size)
    {
        try
        {
            void* p = PageAdvice.AllocateStreamed(size);
            Interlocked.Add(ref _allocatedBytes, (long)size);
            return p;
        }
        catch (OutOfMemoryException) { return null; }
    }

    [UnmanagedCallersOnly]
    private static void Free(OrtAllocator* self, void* p) => NativeMemory.AlignedFree(p);

    [UnmanagedCallersOnly]
    private static nint Info(OrtAllocator* self) => _info!.DangerousGetHandle();

    [DllImport("onnxruntime", EntryPoint = "OrtGetApiBase")]
    private static extern OrtApiBase* OrtGetApiBase();
}
