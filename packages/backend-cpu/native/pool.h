// A small persistent thread pool: run(n, f) calls f(task, thread) for task in [0, n) on all threads and waits.
#pragma once
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nnunet {

class Pool {
 public:
  explicit Pool(int n) { resize(n); }
  ~Pool() { stop_all(); }
  int size() const { return nthreads_; }
  void resize(int n) {
    if (n < 1) n = 1;
    if (n == nthreads_) return;
    stop_all();
    nthreads_ = n;
    stop_ = false;
    for (int t = 1; t < n; t++) workers_.emplace_back([this, t] { loop(t); });
  }
  /**
   * Runs f(task, tid) for every task; the calling thread takes part as tid 0. Not re-entrant. An exception thrown
   * by a task (e.g. std::bad_alloc) stops the remaining tasks and is rethrown here, on the calling thread.
   */
  void run(long ntasks, const std::function<void(long, int)>& f) {
    if (ntasks <= 0) return;
    if (nthreads_ == 1 || ntasks == 1) {
      for (long i = 0; i < ntasks; i++) f(i, 0);
      return;
    }
    error_ = nullptr;
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &f;
      ntasks_ = ntasks;
      next_.store(0);
      busy_ = nthreads_ - 1;
      gen_++;
    }
    cv_.notify_all();
    work(0);
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [this] { return busy_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work(int tid) {
    for (long i; (i = next_.fetch_add(1)) < ntasks_;) {
      try {
        (*fn_)(i, tid);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!error_) error_ = std::current_exception();
        next_.store(ntasks_);
      }
    }
  }
  void loop(int tid) {
    unsigned long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stop_ || gen_ != seen; });
        if (stop_) return;
        seen = gen_;
      }
      work(tid);
      {
        std::lock_guard<std::mutex> lk(m_);
        if (--busy_ == 0) done_.notify_one();
      }
    }
  }
  void stop_all() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }
  int nthreads_ = 0;
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_, done_;
  const std::function<void(long, int)>* fn_ = nullptr;
  std::atomic<long> next_{0};
  long ntasks_ = 0;
  int busy_ = 0;
  unsigned long gen_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace nnunet
