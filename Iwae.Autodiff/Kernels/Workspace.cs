using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Iwae.Autodiff.Kernels;

/// <summary>
/// What one thread needs while it runs kernels: aligned scratch (GEMM tiles, packed panels, the zero-padded rows of an
/// edge) and the reusable descriptors of the parallel jobs it hands out. Both grow on first use and are then reused, so
/// steady-state kernel calls allocate nothing. A workspace serves one thread at a time: each pool worker owns one, and a
/// caller rents one from its <see cref="Execution"/> for the length of a kernel call.
/// </summary>
internal sealed unsafe class Workspace
{
    private byte[]? _scratch;
    private object?[] _jobs = [];

    /// <summary>
    /// A 64-byte aligned block of at least <paramref name="count"/> values, valid until this workspace's next
    /// <see cref="Scratch{T}"/>. A new block starts zeroed.
    /// </summary>
    public T* Scratch<T>(int count) where T : unmanaged
    {
        long need = (long)count * sizeof(T) + 64;
        var buf = _scratch;
        if (buf is null || buf.Length < need)
            _scratch = buf = GC.AllocateArray<byte>(checked((int)BitOperations.RoundUpToPowerOf2((ulong)need)), pinned: true);
        nuint addr = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buf));
        return (T*)((addr + 63) & ~(nuint)63);
    }

    /// <summary>This workspace's one instance of <typeparamref name="TJob"/> (a parallel job's reusable descriptor).</summary>
    public TJob Job<TJob>() where TJob : class, new()
    {
        int i = JobSlot<TJob>.Index;
        if (i >= _jobs.Length) Array.Resize(ref _jobs, Math.Max(i + 1, 2 * _jobs.Length));
        return (TJob)(_jobs[i] ??= new TJob());
    }

    /// <summary>Numbers the job types as the runtime first meets them: each has a slot in every workspace.</summary>
    private static class JobSlots
    {
        private static int s_count;
        public static int Next() => Interlocked.Increment(ref s_count) - 1;
    }

    private static class JobSlot<TJob>
    {
        public static readonly int Index = JobSlots.Next();
    }
}
